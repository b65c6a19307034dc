//! The PostgreSQL phases: GET project on one server, then on two processes
//! sharing the database with the load's connections split between them
//! (issue 16's scale-out cost), seeded as the SQLite database is.

use std::time::Instant;

use hyper::header::HeaderValue;

use super::{
    owner_with_key, peak_rss_mb, phase, project_retrieve, project_uris, report_exit, run_spread,
    seed, start_server, wait_for_health, Common, Load, Outcome, Run,
};

pub const RETRIEVE: &str = "PG GET projects/:id/";
pub const RETRIEVE_X2: &str = "PG GET projects/:id/ x2 procs";
pub const PHASES: &[&str] = &[RETRIEVE, RETRIEVE_X2];

/// The machine's PostgreSQL (trust auth), through whose `test` database a
/// fresh one is created for the run.
const LOCAL_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The database the phases run on: `PRICKLE_BENCH_DATABASE_URL` (an empty
/// database, left as the run leaves it), or `prickle_bench_<pid>` created
/// through `LOCAL_ADMIN` and dropped when this is.
pub struct Database {
    pub url: String,
    created: Option<String>,
}

impl Database {
    /// Why PostgreSQL cannot be used, when it cannot.
    pub fn open() -> Result<Database, String> {
        let runtime = runtime();
        if let Some(url) = std::env::var("PRICKLE_BENCH_DATABASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            // The server's own connect, so that a URL with sslmode works as it would for prickle.
            runtime
                .block_on(prickle::storage::Db::connect(&url))
                .map_err(|e| {
                    format!("PostgreSQL unreachable at PRICKLE_BENCH_DATABASE_URL: {e}")
                })?;
            return Ok(Database { url, created: None });
        }
        let name = format!("prickle_bench_{}", std::process::id());
        runtime
            .block_on(execute(LOCAL_ADMIN, &format!("CREATE DATABASE {name}")))
            .map_err(|e| format!("PostgreSQL unreachable at {LOCAL_ADMIN}: {e}"))?;
        let (server, _) = LOCAL_ADMIN.rsplit_once('/').expect("a database in the URL");
        Ok(Database {
            url: format!("{server}/{name}"),
            created: Some(name),
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some(name) = &self.created else { return };
        // FORCE: a server killed a moment ago may still hold a connection.
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = runtime().block_on(execute(LOCAL_ADMIN, &sql)) {
            eprintln!("could not drop the benchmark's database {name}: {e}");
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn execute(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await?;
    drop(client);
    let _ = connection.await;
    Ok(())
}

/// The phases `run` asks for, and the peak RSS of each server started.
pub async fn phases(run: &Run, database_url: &str) -> (Vec<Outcome>, Vec<f64>) {
    let (org, key) = owner_with_key(database_url);
    // One signing key for both processes, as a deployment behind one
    // balancer has: a token one signs, the other accepts.
    let env = [("SECRET_KEY", "prickle-bench-shared-secret-key")];
    let (mut first, port) = start_server(database_url, &run.dir, "server-pg-1", &env);
    let common = Common {
        host: HeaderValue::from_str(&format!("127.0.0.1:{port}")).unwrap(),
        auth: HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        json: HeaderValue::from_static("application/json"),
    };
    wait_for_health(&mut first, port, &common).await;
    let seeded = Instant::now();
    let ids = seed(port, &org, &common, run.projects).await;
    eprintln!(
        "seeded {} projects on PostgreSQL in {:.1} s",
        ids.len(),
        seeded.elapsed().as_secs_f64()
    );
    let uris = project_uris(&org, &ids);
    let one = run.load(port, common.clone());
    let mut outcomes = Vec::new();
    if run.only.runs(RETRIEVE) {
        outcomes.push(phase(&one, RETRIEVE, true, project_retrieve(uris.clone())).await);
    }
    let mut servers = vec![first];
    if run.only.runs(RETRIEVE_X2) {
        let (mut second, port) = start_server(database_url, &run.dir, "server-pg-2", &env);
        let common = Common {
            host: HeaderValue::from_str(&format!("127.0.0.1:{port}")).unwrap(),
            ..common
        };
        wait_for_health(&mut second, port, &common).await;
        servers.push(second);
        // The one process's load split in two, the odd connection to the first.
        let half = run.connections / 2;
        let a = Load {
            connections: run.connections - half,
            ..one.clone()
        };
        let b = Load {
            connections: half,
            ..run.load(port, common)
        };
        let o = run_spread(&[&a, &b], RETRIEVE_X2, true, project_retrieve(uris)).await;
        eprintln!("  {RETRIEVE_X2}: {:.0} req/s", o.rps);
        outcomes.push(o);
    }
    let peaks = servers
        .iter()
        .filter_map(|s| peak_rss_mb(s.pid()))
        .collect();
    for server in &mut servers {
        report_exit(server);
    }
    (outcomes, peaks)
}
