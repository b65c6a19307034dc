//! Scale-out: two prickle processes on one PostgreSQL database, started
//! together (their migrations must not collide), each seeing the other's
//! writes at once and neither losing the other's updates.

use serde_json::json;

use crate::common;
use crate::processes::{owner_with_key, Api, Server};

pub async fn two_processes_on_one_postgres_database(url: String) {
    let database_url = common::fresh_postgres_schema(&url).await;
    // Both start on an empty schema at once: their migrations must not collide.
    let (a, b) = tokio::join!(Server::start(&database_url), Server::start(&database_url));
    let (org, key) = owner_with_key(&database_url, "ada@example.com");
    let a = Api::new(&a, &key, &org);
    let b = Api::new(&b, &key, &org);

    // Interleaved: each write through one process is read back through the other at once.
    let mut ids = Vec::new();
    for i in 0..6 {
        let (w, r) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let created = w.create(&format!("Interleaved {i}")).await;
        let id = created["id"].as_i64().expect("id");
        let (status, got) = r.get(id).await;
        assert_eq!(
            status, 200,
            "created through one, read through the other: {got}"
        );
        assert_eq!(got["name"], format!("Interleaved {i}"));
        let (status, body) = r
            .patch(
                id,
                json!({"name": format!("Renamed {i}"), "timezone": "Europe/Berlin"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, got) = w.get(id).await;
        assert_eq!(status, 200);
        assert_eq!(got["name"], format!("Renamed {i}"));
        assert_eq!(got["timezone"], "Europe/Berlin");
        ids.push(id);
    }
    let (count, names) = a.all_names().await;
    assert_eq!(count, 6);
    assert_eq!(b.all_names().await, (count, names));

    // No update is lost: concurrent PATCHes through both processes, each
    // merging its own key into the same project's survey_config.
    let target = ids[0];
    let writers = 16;
    let mut tasks = Vec::new();
    for i in 0..writers {
        let api = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            api.patch(target, json!({ "survey_config": { key: i } }))
                .await
        }));
    }
    for t in tasks {
        let (status, body) = t.await.expect("patch task");
        assert_eq!(status, 200, "{body}");
    }
    for api in [&a, &b] {
        let (status, got) = api.get(target).await;
        assert_eq!(status, 200);
        for i in 0..writers {
            assert_eq!(
                got["survey_config"][format!("k{i}")],
                json!(i),
                "survey_config lost k{i}: {}",
                got["survey_config"]
            );
        }
    }

    // Concurrent creates of distinct names through both: all land, count exact.
    let creates = 20;
    let mut tasks = Vec::new();
    for i in 0..creates {
        let api = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            api.create(&format!("Concurrent {i}")).await
        }));
    }
    for t in tasks {
        t.await.expect("create task");
    }
    for api in [&a, &b] {
        let (count, names) = api.all_names().await;
        assert_eq!(count, 6 + creates, "{names:?}");
        assert_eq!(names.len() as i64, count);
        for i in 0..creates {
            assert!(names.contains(&format!("Concurrent {i}")), "{names:?}");
        }
    }

    // A project deleted through one process is gone through the other on the next request.
    for (i, id) in ids.iter().enumerate() {
        let (w, r) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert_eq!(r.get(*id).await.0, 200);
        assert_eq!(w.delete(*id).await, 204);
        let (status, body) = r.get(*id).await;
        assert_eq!(
            status, 404,
            "deleted through one, still served by the other: {body}"
        );
        assert_eq!(r.patch(*id, json!({"name": "Ghost"})).await.0, 404);
    }
    let (count, _) = b.all_names().await;
    assert_eq!(count, creates);
}
