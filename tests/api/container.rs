//! The container image and the compose file, as far as this machine allows:
//! no container engine runs here (and no image registry is reachable), so
//! the debug binary is run with exactly the `Dockerfile`'s final-stage
//! `ENTRYPOINT`, `CMD` and `ENV` (the data directory and the port moved to a
//! temporary directory and a free port), and `compose.yaml` is checked for
//! the README's scale-out shape.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::processes::{client, owner_with_key};

const BIN: &str = env!("CARGO_BIN_EXE_prickle");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const IMAGE_PORT: &str = "8000";

/// One instruction of a Dockerfile: its keyword (upper case) and the rest.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The Dockerfile's instructions, with comments dropped and continuation
/// lines joined as the builder joins them.
fn instructions(dockerfile: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && logical.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                logical.push_str(part);
                logical.push(' ');
            }
            None => {
                logical.push_str(trimmed);
                let (keyword, args) = logical
                    .split_once(char::is_whitespace)
                    .unwrap_or((&logical, ""));
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_string(),
                });
                logical.clear();
            }
        }
    }
    assert!(logical.is_empty(), "Dockerfile ends inside a continuation");
    out
}

/// Splits on whitespace, keeping double-quoted runs together (quotes dropped).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// An exec-form (JSON array) argument list; the shell form is refused, so
/// that what the test runs is what the engine runs.
fn exec_form(keyword: &str, args: &str) -> Vec<String> {
    serde_json::from_str(args)
        .unwrap_or_else(|e| panic!("{keyword} must be in exec (JSON) form ({e}): {args}"))
}

/// What the image runs: the final stage's settings.
#[derive(Debug, Default)]
struct Image {
    env: BTreeMap<String, String>,
    user: Option<String>,
    workdir: Option<String>,
    expose: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
    /// `COPY` sources of the stages before the final one (the build context).
    context_sources: Vec<String>,
}

fn image() -> Image {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile");
    let all = instructions(&text);
    let last_from = all
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("a FROM");
    let mut image = Image::default();
    for i in &all[..last_from] {
        if i.keyword == "COPY" {
            let w = words(&i.args);
            assert!(!w.iter().any(|a| a.starts_with("--from")), "{i:?}");
            image
                .context_sources
                .extend(w[..w.len() - 1].iter().cloned());
        }
    }
    for i in &all[last_from + 1..] {
        match i.keyword.as_str() {
            "ENV" => {
                let w = words(&i.args);
                if w.first().is_some_and(|first| !first.contains('=')) {
                    // The legacy `ENV KEY value` form.
                    image.env.insert(w[0].clone(), w[1..].join(" "));
                } else {
                    for pair in w {
                        let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
                        image.env.insert(k.to_string(), v.to_string());
                    }
                }
            }
            "USER" => image.user = Some(i.args.clone()),
            "WORKDIR" => image.workdir = Some(i.args.clone()),
            "EXPOSE" => image.expose.extend(words(&i.args)),
            "ENTRYPOINT" => image.entrypoint = exec_form("ENTRYPOINT", &i.args),
            "CMD" => image.cmd = exec_form("CMD", &i.args),
            "HEALTHCHECK" => {
                let (_, cmd) = i
                    .args
                    .split_once("CMD ")
                    .expect("HEALTHCHECK [OPTIONS] CMD [...]");
                image.healthcheck = exec_form("HEALTHCHECK", cmd.trim());
            }
            _ => {}
        }
    }
    image
}

#[test]
fn the_image_runs_prickle_serve_as_the_issue_asks() {
    let image = image();
    let user = image.user.as_deref().expect("USER");
    let name = user.split(':').next().unwrap();
    assert!(!["root", "0", ""].contains(&name), "non-root USER: {user}");
    assert_eq!(
        image.env.get("PRICKLE_BIND").map(String::as_str),
        Some("0.0.0.0:8000")
    );
    assert!(image
        .expose
        .iter()
        .any(|p| p == IMAGE_PORT || p == "8000/tcp"));
    assert!(
        image
            .entrypoint
            .first()
            .is_some_and(|e| e.ends_with("/prickle")),
        "{image:?}"
    );
    assert_eq!(image.cmd.first().map(String::as_str), Some("serve"));
    assert!(
        image
            .healthcheck
            .iter()
            .any(|a| a.ends_with(":8000/_health")),
        "HEALTHCHECK on /_health: {:?}",
        image.healthcheck
    );
    // The builder copies only what exists, and .dockerignore lets it through.
    let ignore = std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).expect("ignore");
    for source in &image.context_sources {
        assert!(Path::new(ROOT).join(source).exists(), "COPY {source}");
        assert!(
            ignore
                .lines()
                .any(|l| l.trim_end_matches('/') == format!("!{source}").trim_end_matches('/')),
            ".dockerignore must let {source} in"
        );
    }
}

/// The image's process, stopped with SIGKILL when dropped.
struct Running {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

async fn status(url: &str) -> Option<u16> {
    client()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Runs the image's command with the image's environment alone (the data
/// directory moved to `data`, port 8000 to a free one) until `/_ready` is 200:
/// (process, port, DATABASE_URL).
async fn start_image(image: &Image, workdir: &str, data: &Path) -> (Running, u16, String) {
    let data_dir = data.display().to_string();
    let mut last = String::new();
    // The free port can be taken between probing and binding: retry.
    for attempt in 0..3 {
        let port = free_port();
        let env: BTreeMap<String, String> = image
            .env
            .iter()
            .map(|(k, v)| {
                let v = v.replace(workdir, &data_dir);
                let v = if k == "PRICKLE_BIND" {
                    v.replace(&format!(":{IMAGE_PORT}"), &format!(":{port}"))
                } else {
                    v
                };
                (k.clone(), v)
            })
            .collect();
        let database_url = env.get("DATABASE_URL").expect("DATABASE_URL").clone();
        assert!(
            database_url.starts_with("sqlite://") && database_url.contains(&data_dir),
            "the SQLite file lives in WORKDIR: {database_url}"
        );
        let log = data.join(format!("serve-{attempt}.log"));
        let file = File::create(&log).expect("log");
        let args: Vec<&String> = image.entrypoint[1..].iter().chain(&image.cmd).collect();
        let child = Command::new(BIN)
            .args(&args)
            .env_clear()
            .envs(&env)
            .current_dir(data)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("spawn the image's command");
        let mut running = Running { child, log };

        // Bound to 0.0.0.0: reached here through the loopback address.
        let ready = format!("http://127.0.0.1:{port}/_ready");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if status(&ready).await == Some(200) {
                return (running, port, database_url);
            }
            if let Some(exit) = running.child.try_wait().expect("try_wait") {
                last = format!("exited with {exit}:\n{}", running.log_text());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "/_ready not 200:\n{}",
                running.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("the image's command did not start: {last}")
}

#[tokio::test]
async fn the_image_command_and_environment_serve_the_api() {
    let image = image();
    let workdir = image.workdir.clone().expect("WORKDIR: the data directory");
    let data = tempfile::tempdir().expect("tempdir");
    let (mut running, port, database_url) = start_image(&image, &workdir, data.path()).await;
    let base = format!("http://127.0.0.1:{port}");

    // The HEALTHCHECK command itself, on the moved port.
    let check: Vec<String> = image
        .healthcheck
        .iter()
        .map(|a| a.replace(&format!(":{IMAGE_PORT}/"), &format!(":{port}/")))
        .collect();
    let healthy = Command::new(&check[0])
        .args(&check[1..])
        .stdin(Stdio::null())
        .status()
        .expect("run the HEALTHCHECK command");
    assert!(healthy.success(), "HEALTHCHECK {check:?}: {healthy}");

    // One API call with a key made by `prickle admin` on the image's database.
    let (_org, key) = owner_with_key(&database_url, "ada@example.com");
    let me = client()
        .get(format!("{base}/api/users/@me/"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("GET /api/users/@me/");
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["email"], "ada@example.com");

    // The image's CMD delays the stop: /_ready turns 503 while it serves on,
    // and a second signal ends the delay.
    let pid = running.child.id().to_string();
    let kill = |signal: &str| {
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.expect("kill").success());
    };
    kill("-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&format!("{base}/_ready")).await != Some(503) {
        assert!(
            Instant::now() < deadline,
            "/_ready not 503 after SIGTERM:\n{}",
            running.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status(&format!("{base}/_health")).await, Some(200));
    kill("-TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = running.child.try_wait().expect("try_wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running:\n{}",
            running.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit {exit}:\n{}", running.log_text());

    // The image's log format: one JSON object per line.
    let text = running.log_text();
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["route"] == "/api/users/{uuid}" && l["status"] == 200),
        "{text}"
    );
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").expect("URL").1;
    let authority = rest.split(['/', '?']).next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_port.split(':').next().unwrap()
}

#[test]
fn compose_runs_two_prickle_processes_on_one_postgres_with_redis() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("compose.yaml")).expect("compose");
    let compose: Value = serde_norway::from_str(&text).expect("compose.yaml parses");
    let services = compose["services"].as_object().expect("services");
    let prickles: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(_, s)| s.get("build").is_some())
        .collect();
    assert_eq!(
        prickles.len(),
        2,
        "two prickle services built from this repo"
    );

    let shared = ["DATABASE_URL", "SECRET_KEY", "SITE_URL", "REDIS_URL"];
    let env = |s: &Value, k: &str| -> String {
        s["environment"][k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {s}"))
            .to_string()
    };
    for k in shared {
        let values: Vec<String> = prickles.iter().map(|(_, s)| env(s, k)).collect();
        assert_eq!(values[0], values[1], "{k} is the same on both processes");
    }
    let (_, first) = prickles[0];
    let image_of = |url: &str| -> String {
        let service = &services[host_of(url)];
        service["image"].as_str().unwrap_or_default().to_string()
    };
    let database_url = env(first, "DATABASE_URL");
    assert!(database_url.starts_with("postgres://"), "{database_url}");
    assert!(
        image_of(&database_url).starts_with("postgres"),
        "{database_url}"
    );
    let redis_url = env(first, "REDIS_URL");
    assert!(image_of(&redis_url).starts_with("redis"), "{redis_url}");

    // More than the image's stop delay (10 s) plus the drain (30 s) before
    // SIGKILL.
    for (name, s) in &prickles {
        let grace = s["stop_grace_period"].as_str().unwrap_or("10s");
        let seconds: u64 = grace.trim_end_matches('s').parse().expect("seconds");
        assert!(seconds > 40, "{name}: stop_grace_period {grace}");
    }

    // The balancer is the one trusted proxy.
    let balancer_ip = services["balancer"]["networks"]["default"]["ipv4_address"]
        .as_str()
        .expect("balancer address");
    assert_eq!(env(first, "PRICKLE_TRUSTED_PROXIES"), balancer_ip);
    let nginx = std::fs::read_to_string(Path::new(ROOT).join("deploy/nginx.conf")).expect("nginx");
    for (name, _) in &prickles {
        assert!(
            nginx.contains(&format!("server {name}:8000")),
            "{name} upstream"
        );
    }
}
