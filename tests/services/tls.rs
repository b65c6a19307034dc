//! PostgreSQL over TLS: `sslmode` and `sslrootcert` in the database URL,
//! against the machine's PostgreSQL (which has TLS on, with a self-signed
//! certificate for `localhost`). These always need PostgreSQL, so they run
//! in the SQLite run of the suite too; `url` reaches it (see `main.rs`).

use std::path::PathBuf;

use prickle::storage::{redact_url, Db};
use sea_query::{Expr, Query};

/// A password the server never asks for (trust auth), so it must not show
/// up in any error.
const PASSWORD: &str = "hunter2-must-not-leak";

/// `url` with more query parameters.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

fn wrong_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wrong-root.pem")
}

/// The server's own certificate (self-signed, so it is its own root). The
/// server must have TLS on and the file must be readable: CI runs on this
/// kind of machine, so either missing is a failure, not a skip.
async fn server_certificate(url: &str) -> PathBuf {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {url}: {e}"));
    tokio::spawn(conn);
    let setting = |name: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap_or_else(|e| panic!("SHOW {name}: {e}"));
            row.get::<_, String>(0)
        }
    };
    assert_eq!(
        setting("ssl").await,
        "on",
        "PostgreSQL at {url} has TLS off; these tests need ssl = on"
    );
    let mut path = PathBuf::from(setting("ssl_cert_file").await);
    if path.is_relative() {
        path = PathBuf::from(setting("data_directory").await).join(path);
    }
    if let Err(e) = std::fs::read(&path) {
        panic!(
            "the server's certificate {} is not readable: {e}",
            path.display()
        );
    }
    path
}

/// Whether prickle's own pooled connection is encrypted, as the server sees it.
async fn ssl_in_use(db: &Db) -> bool {
    let stmt = Query::select()
        .expr(Expr::cust("ssl"))
        .from("pg_stat_ssl")
        .and_where(Expr::cust("pid = pg_backend_pid()"))
        .to_owned();
    let mut tx = db.read().await.expect("read");
    let ssl = tx
        .query_opt(&stmt, |r| r.bool(0))
        .await
        .expect("query pg_stat_ssl")
        .expect("pg_stat_ssl has a row for this backend");
    tx.commit().await.expect("commit");
    ssl
}

async fn connect(url: &str) -> Db {
    Db::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", redact_url(url)))
}

/// The error a refused connection reports, checked to be one line and free
/// of the password, also as the server and CLI print it.
async fn refused(url: &str) -> String {
    let e = match Db::connect(url).await {
        Ok(_) => panic!("{} connected", redact_url(url)),
        Err(e) => e.to_string(),
    };
    let printed = format!("cannot open {}: {e}", redact_url(url));
    assert!(!printed.contains('\n'), "not one line: {printed}");
    assert!(!printed.contains(PASSWORD), "password leaked: {printed}");
    e
}

pub async fn require_encrypts_and_disable_does_not(url: String) {
    server_certificate(&url).await;
    let db = connect(&with_params(&url, "sslmode=require")).await;
    assert!(ssl_in_use(&db).await, "sslmode=require is not encrypted");
    // libpq's default, prefer, takes TLS when the server offers it.
    assert!(
        ssl_in_use(&connect(&url).await).await,
        "prefer is not encrypted"
    );
    let plain = connect(&with_params(&url, "sslmode=disable")).await;
    assert!(!ssl_in_use(&plain).await, "sslmode=disable is encrypted");
}

pub async fn verify_ca_accepts_the_servers_own_certificate_as_root(url: String) {
    let cert = server_certificate(&url).await;
    // The certificate names localhost; verify-ca does not check the name,
    // so 127.0.0.1 connects too.
    for mode in ["verify-ca", "require"] {
        let db = connect(&with_params(
            &url,
            &format!("sslmode={mode}&sslrootcert={}", cert.display()),
        ))
        .await;
        assert!(ssl_in_use(&db).await, "sslmode={mode} is not encrypted");
    }
}

pub async fn verify_ca_refuses_a_server_its_root_did_not_sign(url: String) {
    server_certificate(&url).await;
    let root = wrong_root();
    for mode in ["verify-ca", "verify-full", "require"] {
        let e = refused(&with_params(
            &url,
            &format!(
                "sslmode={mode}&sslrootcert={}&password={PASSWORD}",
                root.display()
            ),
        ))
        .await;
        assert_eq!(
            e,
            format!(
                "error performing TLS handshake: invalid peer certificate: UnknownIssuer \
                 (sslmode={mode}: the server's certificate does not chain to sslrootcert {})",
                root.display()
            )
        );
    }
}

pub async fn verify_full_also_checks_the_host_name(url: String) {
    let cert = server_certificate(&url).await;
    assert!(
        url.contains("@127.0.0.1:") || url.contains("@localhost:"),
        "this test needs the local server (its certificate names localhost): {url}"
    );
    let params = format!("sslmode=verify-full&sslrootcert={}", cert.display());
    let by_name = with_params(&url.replace("@127.0.0.1:", "@localhost:"), &params);
    assert!(ssl_in_use(&connect(&by_name).await).await);

    let by_address = with_params(&url.replace("@localhost:", "@127.0.0.1:"), &params);
    let e = refused(&by_address).await;
    assert!(
        e.ends_with("(sslmode=verify-full: the server's certificate does not name this host)"),
        "{e}"
    );
    assert!(
        e.contains("certificate not valid for name \"127.0.0.1\""),
        "{e}"
    );
}

pub async fn an_unreadable_root_file_is_a_clear_error(url: String) {
    let e = refused(&with_params(
        &url,
        "sslmode=verify-ca&sslrootcert=/nonexistent/root.pem",
    ))
    .await;
    assert_eq!(
        e,
        "cannot read sslrootcert /nonexistent/root.pem: No such file or directory (os error 2)"
    );
}
