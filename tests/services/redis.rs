//! Rate limits across processes: two prickle processes counting one key's
//! requests in one Redis share one budget.

use axum::http::header;
use serde_json::Value;

use crate::common::throttled;
use crate::processes::{self, client, Server};

pub async fn two_processes_share_one_budget_per_key(redis: String) {
    let (url, _dir) = processes::suite_database().await;
    let (_, key) = processes::owner_with_key(&url, "ada@example.com");
    let env = [
        ("RATE_LIMIT_ENABLED", "true"),
        ("REDIS_URL", redis.as_str()),
    ];
    let a = Server::start_with(&url, &env).await;
    let b = Server::start_with(&url, &env).await;
    let http = client();
    let me = |s: &Server| http.get(s.url("/api/users/@me/")).bearer_auth(&key).send();
    for i in 0..480 {
        let r = me(&a).await.unwrap();
        assert_eq!(r.status(), 200, "request {i} through A");
    }
    let r = me(&b).await.unwrap();
    assert_eq!(r.status(), 429, "the 481st, through B");
    let retry: u64 = r.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, throttled(retry));
    assert_eq!(me(&a).await.unwrap().status(), 429, "and through A");
}
