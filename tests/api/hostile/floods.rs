//! Floods of slow, idle and half-sent connections, from loopback addresses
//! other than the one the honest client uses (Linux routes all of 127/8 to
//! the loopback interface), against `server::run` as `prickle serve` runs it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prickle::server::Limits;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::projects::new_project;
use crate::slow_clients::{read_response, relaxed, serve, RawResponse, Served, HEALTH};
use crate::support::World;

/// How long an honest request may take while a flood is held.
const PROMPT: Duration = Duration::from_secs(1);

async fn connect_from(source: &str, to: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(format!("{source}:0").parse().ok()?).ok()?;
    tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .ok()?
        .ok()
}

/// `n` connections from `source`, each sent `opening` and then held; the
/// ones the client could open (the server may close them at once).
async fn hold(source: &'static str, to: SocketAddr, n: usize, opening: Vec<u8>) -> Vec<TcpStream> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let opening = opening.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = connect_from(source, to).await?;
            // A refused connection may be closed before this goes out.
            let _ = s.write_all(&opening).await;
            Some(s)
        }));
    }
    let mut held = Vec::new();
    for t in tasks {
        if let Some(s) = t.await.expect("connect task") {
            held.push(s);
        }
    }
    held
}

/// How many of `conns` the server has not closed.
fn open_now(conns: &[TcpStream]) -> usize {
    let mut buf = [0u8; 256];
    conns
        .iter()
        .filter(|c| {
            matches!(c.try_read(&mut buf),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count()
}

/// How many of `conns` are open once the server has worked through its
/// accept queue (connections it has not accepted yet look open to the
/// client): waits, bounded, for the count to come down to `expected`.
async fn still_open(conns: &[TcpStream], expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let open = open_now(conns);
        if open <= expected || Instant::now() > deadline {
            return open;
        }
    }
}

/// One request from 127.0.0.1 on a new connection; its answer and how long
/// it took.
async fn honest(served: &Served, request: &str) -> (RawResponse, Duration) {
    let begun = Instant::now();
    let mut s = connect_from("127.0.0.1", served.addr)
        .await
        .expect("the honest client connects");
    s.write_all(request.as_bytes()).await.expect("send");
    let answer = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .expect("an answer within 10 s")
        .expect("an answer, not a closed connection");
    (answer, begun.elapsed())
}

fn get(path: &str, key: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: prickle\r\nAuthorization: Bearer {key}\r\n\r\n")
}

fn post(path: &str, key: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: prickle\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_half_sent_requests_from_one_address_stall_no_one_else() {
    let _turn = super::HEAVY.lock().await;
    // Both ends of 2,000 connections live in this process, as `prickle
    // serve` would raise its own limit.
    let fds = prickle::server::raise_fd_limit().unwrap_or(0);
    assert!(
        fds >= 8192,
        "this test needs 8,192 file descriptors, has {fds}"
    );
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    // The defaults of `prickle serve`.
    let served = serve(&w, Limits::default()).await;
    let half_head = b"GET /_health HTTP/1.1\r\nHost: prickle\r\nX-Slow: ".to_vec();
    let half_body = format!(
        "POST {} HTTP/1.1\r\nHost: prickle\r\nContent-Type: application/json\r\n\
         Content-Length: 100000\r\n\r\n{{",
        w.projects()
    )
    .into_bytes();
    let mut flood = hold("127.0.0.2", served.addr, 1000, half_body).await;
    flood.extend(hold("127.0.0.2", served.addr, 1000, half_head).await);
    let cap = Limits::default().max_connections_per_address;
    let open = still_open(&flood, cap).await;
    assert_eq!(open, cap, "connections from one address left open");

    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let (answer, took) = honest(&served, &get(&w.project(id), &w.owner)).await;
        assert_eq!(answer.status, 200, "request {i}: {answer:?}");
        worst = worst.max(took);
        let (answer, took) = honest(&served, &get("/_health", "")).await;
        assert_eq!(answer.status, 200, "health {i}: {answer:?}");
        worst = worst.max(took);
    }
    let body = json!({"name": "Written during the flood"}).to_string();
    let (answer, took) = honest(&served, &post(&w.projects(), &w.owner, &body)).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    worst = worst.max(took);
    eprintln!("flood of 2,000 from 127.0.0.2 ({open} admitted): worst honest request {worst:?}");
    assert!(worst <= PROMPT, "an honest request took {worst:?}");
    drop(flood);
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_total_new_connections_are_closed_and_the_rest_served() {
    let w = World::new().await;
    let served = serve(
        &w,
        Limits {
            max_connections: 20,
            max_connections_per_address: 1000,
            ..relaxed()
        },
    )
    .await;
    // Twenty idle connections from one client fill the server; one of them
    // answers as usual.
    let mut hogs = hold("127.0.0.3", served.addr, 20, Vec::new()).await;
    assert_eq!(still_open(&hogs, 20).await, 20);
    hogs[0].write_all(HEALTH).await.unwrap();
    assert_eq!(
        read_response(&mut hogs[0]).await.expect("served").status,
        200
    );

    // The next is closed before anything is read: no answer, no hang.
    let mut s = connect_from("127.0.0.1", served.addr)
        .await
        .expect("connect");
    let _ = s.write_all(HEALTH).await;
    let refused = tokio::time::timeout(Duration::from_secs(5), read_response(&mut s))
        .await
        .expect("closed promptly");
    assert!(refused.is_none(), "{refused:?}");

    // Places come back as connections close.
    drop(hogs);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = connect_from("127.0.0.1", served.addr)
            .await
            .expect("connect");
        let _ = s.write_all(HEALTH).await;
        if let Some(answer) = read_response(&mut s).await {
            assert_eq!(answer.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "still refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_is_held_only_to_the_total() {
    let w = World::new().await;
    let served = serve(
        &w,
        Limits {
            max_connections_per_address: 2,
            trusted_proxies: "127.0.0.4".parse().unwrap(),
            ..relaxed()
        },
    )
    .await;
    let from_proxy = hold("127.0.0.4", served.addr, 10, Vec::new()).await;
    assert_eq!(
        still_open(&from_proxy, 10).await,
        10,
        "the balancer's connections"
    );
    let others = hold("127.0.0.5", served.addr, 10, Vec::new()).await;
    assert_eq!(still_open(&others, 2).await, 2, "anyone else's");
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_held_half_sent_leave_small_requests_served() {
    let w = World::new().await;
    let served = serve(
        &w,
        Limits {
            // The smallest budget there is: one whole body.
            max_body_buffer_bytes: 0,
            // A body waiting for the budget reads nothing, so it notices its
            // client gone only at its timeout: keep shutdown short.
            body_read_timeout: Duration::from_secs(5),
            ..relaxed()
        },
    )
    .await;
    // Four clients each send 600 KiB of a 1 MiB body and stop: together
    // more than the budget holds.
    let mut opening = format!(
        "POST {} HTTP/1.1\r\nHost: prickle\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        w.projects(),
        w.owner,
        1024 * 1024
    )
    .into_bytes();
    opening.extend(std::iter::repeat_n(b' ', 600 * 1024));
    let held = hold("127.0.0.6", served.addr, 4, opening).await;
    assert_eq!(still_open(&held, 4).await, 4);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let body = json!({"name": "Small"}).to_string();
    let (answer, took) = honest(&served, &post(&w.projects(), &w.owner, &body)).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert!(took <= PROMPT, "a small body waited {took:?}");
    let (answer, took) = honest(&served, &get("/_health", "")).await;
    assert_eq!(answer.status, 200);
    assert!(took <= PROMPT, "{took:?}");
    drop(held);
    served.shut_down().await;
}
