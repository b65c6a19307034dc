//! Slow and idle clients against a real listener, served by the code
//! `prickle serve` runs (`server::run`) with small limits: a raw TCP client
//! that sends one byte a second loses its connection (headers) or gets a 408
//! (body); idle keep-alive connections are closed; beyond the in-flight bound
//! the answer is 503 with `Retry-After`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prickle::server::{self, Limits};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::projects::{activity, detail, new_project};
use crate::support::{TestApp, World, SITE};
use prickle::config::Config;

const SHORT: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(30);
/// How late past its deadline a close may come on two busy cores.
const SLACK: Duration = Duration::from_millis(2500);

/// Limits that stay out of the way, for tests to tighten one at a time.
pub(crate) fn relaxed() -> Limits {
    Limits {
        header_read_timeout: LONG,
        body_read_timeout: LONG,
        keep_alive_timeout: LONG,
        max_in_flight_requests: 64,
        ..Limits::default()
    }
}

/// The world's router on 127.0.0.1, as `prickle serve` runs it.
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

pub(crate) async fn serve(w: &World, limits: Limits) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    // The connection gauges are read through `/metrics` in tests/api/metrics.rs.
    let metrics = Default::default();
    let task = tokio::spawn(server::run(
        listener,
        w.app.router.clone(),
        limits,
        metrics,
        async {
            let _ = stopped.await;
        },
    ));
    Served {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Served {
    pub(crate) async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect")
    }

    /// Stops the server; returns how long `run` took to return.
    pub(crate) async fn shut_down(mut self) -> Duration {
        let begun = Instant::now();
        let _ = self.stop.take().expect("running").send(());
        tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("server::run returned after shutdown")
            .expect("server task");
        begun.elapsed()
    }
}

/// Writes `bytes` one a second; returns how many went out before the
/// server closed the connection (or all of them).
pub(crate) fn one_byte_a_second(mut out: OwnedWriteHalf, bytes: Vec<u8>) -> JoinHandle<usize> {
    tokio::spawn(async move {
        for (sent, b) in bytes.iter().enumerate() {
            if out.write_all(&[*b]).await.is_err() {
                return sent;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        bytes.len()
    })
}

#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response; `None` when the server closed the connection first.
pub(crate) async fn read_response(r: &mut (impl AsyncRead + Unpin)) -> Option<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().expect("content-length"))
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => panic!("connection closed inside a response body"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buf[head_end..head_end + length];
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()));
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// Waits (bounded) for the server to close the connection, expecting no
/// more bytes; how long it took since `begun`.
async fn closed_after(r: &mut (impl AsyncRead + Unpin), begun: Instant) -> Duration {
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(20), r.read(&mut chunk))
        .await
        .expect("the server did not close the connection");
    if let Ok(n @ 1..) = read {
        panic!(
            "unexpected bytes from the server: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        );
    }
    begun.elapsed()
}

fn assert_within(took: Duration, limit: Duration, what: &str) {
    assert!(
        took + Duration::from_millis(100) >= limit && took <= limit + SLACK,
        "{what}: closed after {took:?}, limit {limit:?}"
    );
}

pub(crate) const HEALTH: &[u8] = b"GET /_health HTTP/1.1\r\nHost: prickle\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_one_byte_a_second_lose_the_connection() {
    let w = World::new().await;
    let served = serve(
        &w,
        Limits {
            header_read_timeout: SHORT,
            ..relaxed()
        },
    )
    .await;

    // A first request: its headers are due from the connection's opening.
    let (mut r, out) = served.connect().await.into_split();
    let begun = Instant::now();
    let trickle = one_byte_a_second(out, HEALTH.to_vec());
    let took = closed_after(&mut r, begun).await;
    assert_within(took, SHORT, "first request's headers");
    let sent = trickle.await.expect("trickle");
    assert!(sent < HEALTH.len(), "all {sent} bytes went out");

    // A later request on a kept-alive connection: due from its first byte.
    let (mut r, mut out) = served.connect().await.into_split();
    out.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut r).await.expect("answer").status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let begun = Instant::now();
    let trickle = one_byte_a_second(out, HEALTH.to_vec());
    let took = closed_after(&mut r, begun).await;
    assert_within(took, SHORT, "second request's headers");
    assert!(trickle.await.expect("trickle") < HEALTH.len());
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_one_byte_a_second_gets_408_and_writes_nothing() {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    let before = detail(&w, id).await;
    let log_before = activity(&w, id).await["total_count"].clone();
    let served = serve(
        &w,
        Limits {
            body_read_timeout: SHORT,
            ..relaxed()
        },
    )
    .await;
    let body = json!({"name": "Renamed one byte at a time"}).to_string();
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: prickle\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        w.project(id),
        w.owner,
        body.len()
    );
    let (mut r, mut out) = served.connect().await.into_split();
    out.write_all(head.as_bytes()).await.unwrap();
    let begun = Instant::now();
    let trickle = one_byte_a_second(out, body.clone().into_bytes());
    let answer = tokio::time::timeout(Duration::from_secs(20), read_response(&mut r))
        .await
        .expect("answered in time")
        .expect("answered before closing");
    assert_within(begun.elapsed(), SHORT, "408");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.body["type"], "invalid_request");
    assert_eq!(answer.body["code"], "request_timeout");
    assert!(answer.body["detail"].is_string(), "{answer:?}");
    assert_eq!(answer.body["attr"], Value::Null);
    // The rest of the body will never be read: the connection goes.
    closed_after(&mut r, begun).await;
    assert!(trickle.await.expect("trickle") < body.len());
    let after = detail(&w, id).await;
    assert_eq!(
        (&after["name"], &after["updated_at"]),
        (&before["name"], &before["updated_at"])
    );
    assert_eq!(activity(&w, id).await["total_count"], log_before);
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let w = World::new().await;
    let served = serve(
        &w,
        Limits {
            keep_alive_timeout: SHORT,
            ..relaxed()
        },
    )
    .await;
    let (mut r, mut out) = served.connect().await.into_split();
    // Kept alive while in use...
    for _ in 0..3 {
        out.write_all(HEALTH).await.unwrap();
        assert_eq!(read_response(&mut r).await.expect("answer").status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // ...and closed once idle.
    out.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut r).await.expect("answer").status, 200);
    let took = closed_after(&mut r, Instant::now()).await;
    assert_within(took, SHORT, "idle connection");

    // A connection that never sends anything is idle too.
    let mut silent = served.connect().await;
    let took = closed_after(&mut silent, Instant::now()).await;
    assert!(
        took <= SHORT + SLACK,
        "silent connection closed after {took:?}"
    );
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_timeout_does_not_cut_idle_keep_alive_connections() {
    let w = World::new().await;
    let served = serve(
        &w,
        Limits {
            header_read_timeout: SHORT,
            ..relaxed()
        },
    )
    .await;
    let (mut r, mut out) = served.connect().await.into_split();
    out.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut r).await.expect("answer").status, 200);
    // Idle for longer than the header timeout: still open.
    tokio::time::sleep(SHORT * 2).await;
    out.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut r).await.expect("still open").status, 200);
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_in_flight_bound_the_answer_is_503_with_retry_after() {
    // No password-hash slot at all, and a long wait for one: a sign-up
    // waits in its handler (asynchronously, on either database), holding
    // its in-flight slot.
    let mut config = Config::new(SITE, 2000, Some("test-secret"));
    config.max_concurrent_password_hashes = 0;
    // Long enough for the sign-up to be in flight on a loaded machine
    // before the deadline below.
    config.password_hash_wait = Duration::from_secs(12);
    let w = World::with_app(TestApp::with_config(config).await).await;
    let invite = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/invites/", w.org),
            Some(&w.owner),
            Some(json!({"target_email": "new@example.com"})),
        )
        .await;
    assert_eq!(invite.status, 201, "{:?}", invite.body);
    let link = invite.body["signup_url"].as_str().expect("signup_url");
    // SITE_URL/signup/<id>?token=<token>, the page; its API is /api/signup/<id>/.
    let page = link.strip_prefix(SITE).expect("a link to the site");
    let (id, token) = page
        .strip_prefix("/signup/")
        .and_then(|rest| rest.split_once("?token="))
        .expect("/signup/<id>?token=<token>");
    let path = format!("/api/signup/{id}/?token={token}");
    let served = serve(
        &w,
        Limits {
            max_in_flight_requests: 1,
            ..relaxed()
        },
    )
    .await;
    let body = json!({"first_name": "New", "password": "correct horse battery"}).to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: prickle\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (mut stuck_r, mut stuck_out) = served.connect().await.into_split();
    stuck_out.write_all(request.as_bytes()).await.unwrap();

    // ...so another is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let (mut r, mut out) = served.connect().await.into_split();
        out.write_all(HEALTH).await.unwrap();
        let answer = read_response(&mut r).await.expect("answer");
        if answer.status != 200 || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.body,
        json!({
            "type": "server_error",
            "code": "service_unavailable",
            "detail": "Service temporarily unavailable, try again later.",
            "attr": null
        })
    );

    // The stuck sign-up gives up on its hash (503), and its slot is free again.
    let stuck = read_response(&mut stuck_r)
        .await
        .expect("the stuck sign-up");
    assert_eq!(stuck.status, 503, "{stuck:?}");
    let (mut r, mut out) = served.connect().await.into_split();
    out.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut r).await.expect("answer").status, 200);
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_takes_no_in_flight_slot() {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    let served = serve(
        &w,
        Limits {
            max_in_flight_requests: 1,
            ..relaxed()
        },
    )
    .await;
    // Before, a request trickling its body held the only slot for as long
    // as its body took.
    let body = json!({"name": "Slow"}).to_string();
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: prickle\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        w.project(id),
        w.owner,
        body.len()
    );
    let (mut slow_r, mut slow_out) = served.connect().await.into_split();
    slow_out.write_all(head.as_bytes()).await.unwrap();
    let trickle = one_byte_a_second(slow_out, body.into_bytes());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for _ in 0..10 {
        let (mut r, mut out) = served.connect().await.into_split();
        out.write_all(HEALTH).await.unwrap();
        let answer = read_response(&mut r).await.expect("answer");
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    // The slow one is served in the end, as sent.
    assert_eq!(
        tokio::time::timeout(LONG, trickle).await.unwrap().unwrap(),
        json!({"name": "Slow"}).to_string().len()
    );
    let answer = read_response(&mut slow_r).await.expect("the slow request");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(detail(&w, id).await["name"], "Slow");
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_idle_or_trickling_connections() {
    let w = World::new().await;
    let served = serve(&w, relaxed()).await;
    let (mut idle_r, mut idle_out) = served.connect().await.into_split();
    idle_out.write_all(HEALTH).await.unwrap();
    assert_eq!(
        read_response(&mut idle_r).await.expect("answer").status,
        200
    );
    let (_trickling_r, out) = served.connect().await.into_split();
    let trickle = one_byte_a_second(out, HEALTH.to_vec());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let took = served.shut_down().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    trickle.abort();
}
