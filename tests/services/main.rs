//! Tests that need a service whatever database the suite runs on: the
//! machine's PostgreSQL (TLS, scale-out) and Redis (rate limits across
//! processes). libtest cannot skip at run time, so this target has its own
//! harness: a trial whose service is unreachable is reported `ignored` with
//! the reason, never `ok`. Under `CI=true` it fails instead: CI provides
//! every service, so an unreachable one is a broken run, not a skip.

#[allow(dead_code)]
#[path = "../api/common.rs"]
mod common;
// Its tests are left out here (no `--test`): only its helpers, some unused.
#[allow(dead_code, unused_imports)]
#[path = "../api/processes.rs"]
mod processes;
mod readiness;
mod redis;
mod scale_out;
mod tls;

use std::future::Future;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const LOCAL_REDIS: &str = "127.0.0.1:6379";

/// A service's URL, or why it cannot be used.
type Service = Result<String, String>;

/// The suite's PostgreSQL when it runs on one, else the machine's.
async fn postgres() -> Service {
    let url = common::postgres_url().unwrap_or_else(|| LOCAL_POSTGRES.to_string());
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok(_) => Ok(url),
        Err(e) => Err(format!("PostgreSQL unreachable at {url}: {e}")),
    }
}

async fn redis() -> Service {
    match tokio::net::TcpStream::connect(LOCAL_REDIS).await {
        Ok(_) => Ok(format!("redis://{LOCAL_REDIS}")),
        Err(e) => Err(format!("Redis unreachable at {LOCAL_REDIS}: {e}")),
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// One trial needing `service`; `threads` > 1 runs it on a multi-threaded runtime.
fn trial<F, Fut>(name: &str, service: &Service, threads: usize, test: F) -> Trial
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let service = service.clone();
    Trial::ignorable_test(name, move || {
        let url = match service {
            Ok(url) => url,
            Err(why) if in_ci() => return Err(Failed::from(format!("CI=true and {why}"))),
            Err(why) => return Ok(Completion::ignored_with(why)),
        };
        let runtime = if threads > 1 {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        };
        // A panic in the test is caught by the harness and reported as a failure.
        runtime.expect("tokio runtime").block_on(test(url));
        Ok(Completion::Completed)
    })
}

/// A trial named after its test function, as libtest names them.
macro_rules! needs {
    ($service:expr, $threads:expr, $module:ident :: $test:ident) => {
        trial(
            concat!(stringify!($module), "::", stringify!($test)),
            $service,
            $threads,
            $module::$test,
        )
    };
}

fn main() {
    let args = Arguments::from_args();
    let (pg, redis) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(async { (postgres().await, redis().await) });
    let trials = vec![
        needs!(&pg, 1, tls::require_encrypts_and_disable_does_not),
        needs!(
            &pg,
            1,
            tls::verify_ca_accepts_the_servers_own_certificate_as_root
        ),
        needs!(
            &pg,
            1,
            tls::verify_ca_refuses_a_server_its_root_did_not_sign
        ),
        needs!(&pg, 1, tls::verify_full_also_checks_the_host_name),
        needs!(&pg, 1, tls::an_unreadable_root_file_is_a_clear_error),
        needs!(&pg, 1, scale_out::two_processes_on_one_postgres_database),
        needs!(
            &pg,
            1,
            readiness::an_unreachable_database_is_503_within_a_bound
        ),
        needs!(&redis, 2, redis::two_processes_share_one_budget_per_key),
    ];
    libtest_mimic::run(&args, trials).exit();
}
