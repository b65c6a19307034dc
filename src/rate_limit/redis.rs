//! The windows in Redis, shared by every process: one sorted set per window
//! (the times of the requests it let through), checked and written by one
//! script so that racing processes cannot both take the last place. The time
//! is Redis's own clock, so processes on machines whose clocks differ agree.
//!
//! A minimal RESP2 client: the script is all prickle asks of Redis, and a
//! small pool of connections serves it; a command that takes longer than
//! [`TIMEOUT`] or a broken connection is an error, which the limiter treats
//! as "let the request through".

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Verdict, Window};

const TIMEOUT: Duration = Duration::from_millis(500);
/// Idle connections kept for reuse.
const POOL: usize = 16;
/// Where prickle's windows live in Redis.
const PREFIX: &str = "prickle:throttle:";

/// For each window (KEYS[i]; ARGV[2i-1] its length in microseconds,
/// ARGV[2i] its rate; the last ARGV a nonce that keeps members unique):
/// 0 when the request fits (and is counted), else the microseconds until it
/// would.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nonce = ARGV[#ARGV]
local out = {}
for i = 1, #KEYS do
  local window = tonumber(ARGV[2 * i - 1])
  local limit = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) < limit then
    redis.call('ZADD', KEYS[i], now, now .. ':' .. nonce)
    redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000))
    out[i] = 0
  else
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    out[i] = math.max(1, window - (now - tonumber(oldest[2])))
  end
end
return out
";

/// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<RedisUrl, String> {
        let bad = |why: &str| format!("REDIS_URL: {why} (redis://[:PASSWORD@]HOST[:PORT][/DB])");
        let rest = s
            .trim()
            .strip_prefix("redis://")
            .ok_or_else(|| bad("only redis:// URLs are supported"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, d)) if !d.is_empty() => (
                h,
                d.parse::<u32>()
                    .map_err(|_| bad("the database is a number"))?,
            ),
            Some((h, _)) => (h, 0),
            None => (rest, 0),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (host, rest) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                match rest.strip_prefix(':') {
                    Some(p) => (
                        host,
                        p.parse::<u16>().map_err(|_| bad("the port is a number"))?,
                    ),
                    None if rest.is_empty() => (host, 6379),
                    None => return Err(bad("junk after ]")),
                }
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>().map_err(|_| bad("the port is a number"))?,
                ),
                None => (hostport, 6379),
            },
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => match a.split_once(':') {
                Some((u, p)) => ((!u.is_empty()).then(|| decode(u)), Some(decode(p))),
                None => (None, Some(decode(a))),
            },
        };
        Ok(RedisUrl {
            host: host.to_string(),
            port,
            user,
            password,
            db,
        })
    }
}

// Never print the password.
impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = if self.password.is_some() { ":***@" } else { "" };
        write!(f, "redis://{auth}{}:{}/{}", self.host, self.port, self.db)
    }
}

pub struct Store {
    url: RedisUrl,
    idle: Mutex<Vec<TcpStream>>,
}

impl Store {
    pub fn new(url: RedisUrl) -> Store {
        Store {
            url,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub async fn count(&self, windows: &[Window]) -> io::Result<Vec<Verdict>> {
        let mut args: Vec<Vec<u8>> = vec![
            b"EVAL".to_vec(),
            SCRIPT.as_bytes().to_vec(),
            windows.len().to_string().into_bytes(),
        ];
        for w in windows {
            args.push(format!("{PREFIX}{}", w.key).into_bytes());
        }
        for w in windows {
            args.push(w.rate.window_micros().to_string().into_bytes());
            args.push(w.rate.requests.to_string().into_bytes());
        }
        args.push(crate::auth::keys::random_token(12).into_bytes());
        let reply = self.run(&args).await?;
        let Reply::Array(items) = reply else {
            return Err(unexpected(&reply));
        };
        if items.len() != windows.len() {
            return Err(unexpected(&Reply::Array(items)));
        }
        items
            .into_iter()
            .map(|r| match r {
                Reply::Int(0) => Ok(Verdict::Allowed),
                Reply::Int(wait) => Ok(Verdict::Wait(wait)),
                other => Err(unexpected(&other)),
            })
            .collect()
    }

    /// One command on a pooled connection, within [`TIMEOUT`]; a connection
    /// that failed is dropped, never reused.
    async fn run(&self, args: &[Vec<u8>]) -> io::Result<Reply> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let work = async {
            let mut conn = match pooled {
                Some(c) => c,
                None => self.connect().await?,
            };
            let reply = command(&mut conn, args).await?;
            Ok::<_, io::Error>((conn, reply))
        };
        let (conn, reply) = tokio::time::timeout(TIMEOUT, work).await.map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, "Redis did not answer in time")
        })??;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL {
            idle.push(conn);
        }
        drop(idle);
        match reply {
            Reply::Error(e) => Err(io::Error::other(format!("Redis: {e}"))),
            reply => Ok(reply),
        }
    }

    async fn connect(&self) -> io::Result<TcpStream> {
        let mut conn = TcpStream::connect((self.url.host.as_str(), self.url.port)).await?;
        let _ = conn.set_nodelay(true);
        if let Some(password) = &self.url.password {
            let mut auth = vec![b"AUTH".to_vec()];
            if let Some(user) = &self.url.user {
                auth.push(user.as_bytes().to_vec());
            }
            auth.push(password.as_bytes().to_vec());
            expect_ok(command(&mut conn, &auth).await?)?;
        }
        if self.url.db != 0 {
            let select = [b"SELECT".to_vec(), self.url.db.to_string().into_bytes()];
            expect_ok(command(&mut conn, &select).await?)?;
        }
        Ok(conn)
    }
}

fn expect_ok(reply: Reply) -> io::Result<()> {
    match reply {
        Reply::Simple(_) => Ok(()),
        Reply::Error(e) => Err(io::Error::other(format!("Redis: {e}"))),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(reply: &Reply) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected reply from Redis: {reply:?}"),
    )
}

#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

async fn command(conn: &mut TcpStream, args: &[Vec<u8>]) -> io::Result<Reply> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    conn.write_all(&out).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((reply, _)) = parse(&buf)? {
            return Ok(reply);
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "reply too long"));
        }
    }
}

/// One reply from the start of `buf` and the bytes it took; `None` while
/// it is incomplete.
fn parse(buf: &[u8]) -> io::Result<Option<(Reply, usize)>> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed reply from Redis");
    let line = std::str::from_utf8(&buf[1..eol]).map_err(|_| bad())?;
    let after = eol + 2;
    let number = || line.parse::<i64>().map_err(|_| bad());
    Ok(Some(match buf.first() {
        Some(b'+') => (Reply::Simple(line.to_string()), after),
        Some(b'-') => (Reply::Error(line.to_string()), after),
        Some(b':') => (Reply::Int(number()?), after),
        Some(b'$') => {
            let n = number()?;
            if n < 0 {
                (Reply::Bulk(None), after)
            } else {
                let end = after + usize::try_from(n).map_err(|_| bad())?;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                (Reply::Bulk(Some(buf[after..end].to_vec())), end + 2)
            }
        }
        Some(b'*') => {
            let n = number()?;
            let mut items = Vec::new();
            let mut at = after;
            for _ in 0..n.max(0) {
                match parse(&buf[at..])? {
                    None => return Ok(None),
                    Some((item, used)) => {
                        items.push(item);
                        at += used;
                    }
                }
            }
            (Reply::Array(items), at)
        }
        _ => return Err(bad()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_whole_or_not_at_all() {
        assert_eq!(
            parse(b"*2\r\n:0\r\n:1500\r\n").unwrap(),
            Some((Reply::Array(vec![Reply::Int(0), Reply::Int(1500)]), 15))
        );
        assert_eq!(parse(b"*2\r\n:0\r\n").unwrap(), None);
        assert_eq!(parse(b"$3\r\nab").unwrap(), None);
        assert_eq!(
            parse(b"$3\r\nabc\r\n").unwrap(),
            Some((Reply::Bulk(Some(b"abc".to_vec())), 9))
        );
        assert_eq!(
            parse(b"-NOSCRIPT x\r\n").unwrap(),
            Some((Reply::Error("NOSCRIPT x".into()), 13))
        );
        assert_eq!(
            parse(b"+OK\r\n").unwrap(),
            Some((Reply::Simple("OK".into()), 5))
        );
        assert!(parse(b"?\r\n").is_err());
    }

    #[test]
    fn urls() {
        let u: RedisUrl = "redis://127.0.0.1:6379".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("127.0.0.1", 6379, 0));
        let u: RedisUrl = "redis://:s%40cret@cache:6380/2".parse().unwrap();
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!((u.host.as_str(), u.port, u.db), ("cache", 6380, 2));
        assert_eq!(format!("{u:?}"), "redis://:***@cache:6380/2");
        let u: RedisUrl = "redis://app:pw@cache".parse().unwrap();
        assert_eq!(u.user.as_deref(), Some("app"));
        let u: RedisUrl = "redis://[::1]:7000/".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 7000));
        for bad in ["", "http://x", "redis://", "redis://h:port", "redis://h/x"] {
            assert!(bad.parse::<RedisUrl>().is_err(), "{bad:?}");
        }
    }
}
