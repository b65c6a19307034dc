//! No secret in a log: database errors on rows holding a project's token
//! are logged without the row's values (PostgreSQL's DETAIL quotes them:
//! `Key (api_token)=(phc_...) already exists`, `Failing row contains (...)`).

use std::io;
use std::sync::{Arc, Mutex};

use prickle::error::ApiError;
use prickle::projects::model::Project;
use prickle::projects::store;
use prickle::storage::schema::Projects;
use prickle::storage::DbError;
use sea_query::Query;

use crate::support::World;

/// Everything logged while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Runs `f` with this log as the thread's subscriber (the error paths
    /// log synchronously, so no task escapes to another thread).
    fn capture<T>(&self, f: impl FnOnce() -> T) -> T {
        let log = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || log.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

/// The project's token is in the row each failing insert writes; neither
/// the error nor the log of turning it into a response may show it.
fn assert_hidden(token: &str, err: DbError, log: &Log) -> ApiError {
    assert!(token.starts_with("phc_"), "{token}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(token), "token in the error: {shown}");
        assert!(!shown.contains('\n'), "not one line: {shown}");
    }
    let api = log.capture(|| ApiError::from(err));
    let text = log.text();
    assert!(!text.contains(token), "token in the log: {text}");
    assert!(!text.contains("phc_"), "a token in the log: {text}");
    api
}

#[tokio::test]
async fn a_duplicate_project_token_is_not_logged() {
    let w = World::new().await;
    let existing = w.create_project("Has a token").await;
    let token = existing["api_token"]
        .as_str()
        .expect("api_token")
        .to_string();

    let now = prickle::time::now_micros();
    let duplicate = Project {
        id: 0,
        uuid: uuid::Uuid::now_v7().to_string(),
        organization_id: w.org.clone(),
        name: "Another name".into(),
        product_description: None,
        is_demo: false,
        api_token: token.clone(),
        secret_api_token: None,
        secret_api_token_backup: None,
        ingested_event: false,
        settings_json: "{}".into(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = w.app.db.write().await.expect("write");
    let err = store::insert(&mut tx, &duplicate)
        .await
        .expect_err("duplicate api_token refused");
    drop(tx);
    assert!(matches!(err, DbError::Unique), "{err:?}");

    let log = Log::default();
    let api = assert_hidden(&token, err, &log);
    assert_eq!(api.status.as_u16(), 409);
}

#[tokio::test]
async fn a_failing_row_holding_a_token_is_not_logged() {
    let w = World::new().await;
    let token = prickle::auth::keys::new_project_token();
    let now = prickle::time::now_micros();
    // No name: the NOT NULL violation's DETAIL on PostgreSQL is the whole
    // failing row, token included.
    let stmt = Query::insert()
        .into_table(Projects::Table)
        .columns([
            Projects::Uuid,
            Projects::OrganizationId,
            Projects::Name,
            Projects::NameKey,
            Projects::IsDemo,
            Projects::ApiToken,
            Projects::IngestedEvent,
            Projects::Settings,
            Projects::CreatedAt,
            Projects::UpdatedAt,
        ])
        .values_panic([
            uuid::Uuid::now_v7().to_string().into(),
            w.org.clone().into(),
            Option::<String>::None.into(),
            "no name".into(),
            false.into(),
            token.clone().into(),
            false.into(),
            "{}".into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    let mut tx = w.app.db.write().await.expect("write");
    let err = tx.execute(&stmt).await.expect_err("NULL name refused");
    drop(tx);
    assert!(matches!(err, DbError::Other(_)), "{err:?}");

    let log = Log::default();
    let api = assert_hidden(&token, err, &log);
    assert_eq!(api.status.as_u16(), 500);
    // It was logged (without the row).
    let text = log.text();
    assert!(text.contains("internal error"), "{text}");
    assert!(text.contains("name"), "the log names the column: {text}");
}
