//! The Lambda process itself: logging, the configuration, the runtime loop.
//!
//! # Layout
//!
//! - [`run`] and [`serve`]: the Tokio runtime, the app, one loop per concurrency slot.
//! - [`runtime_api`]: the loop over Lambda's Runtime API (poll, answer, back off).
//! - [`event`]: the invocation's payload made into the request the routes read.
//! - [`envelope`]: the answer as the response document the Runtime API takes.

mod envelope;
mod event;
mod runtime_api;

use std::sync::Arc;

use crate::api::{App, Route};
use crate::config::Config;
pub use event::request_of;
use runtime_api::RuntimeApi;

/// The whole `main` of each binary: a runtime fit for how Lambda runs this container, then
/// [`serve`].
///
/// Why two kinds of runtime: classic Lambda gives a container one request at a time, and a
/// multi-threaded runtime then only hands that one request's work between threads (futex and
/// epoll calls, and CPU time that Lambda bills at a fraction of a core). With
/// `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda's managed concurrency), requests do run at once
/// and get worker threads.
pub fn run(route: Route) -> Result<(), lambda_http::Error> {
    let mut builder = if concurrent() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder.enable_all().build()?;
    // The loop runs as a task, not as `block_on`'s own future: a task that an I/O event or
    // another task wakes goes on the runtime's queue and runs next, while waking `block_on`'s
    // future makes the current-thread runtime poll the kernel once more before polling it (an
    // `epoll_wait` with no timeout after every answer read: three a warm page, strace).
    runtime.block_on(async { tokio::spawn(serve(route)).await? })
}

/// How many requests Lambda may hand this container at once, as lambda_runtime reads
/// `AWS_LAMBDA_MAX_CONCURRENCY`: 1 unless it is a number above 1.
fn slots() -> usize {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&slots| slots > 1)
        .unwrap_or(1)
}

fn concurrent() -> bool {
    slots() > 1
}

/// A Lambda function serving `route`, on the runtime [`run`] chose.
///
/// Logging first, then the configuration, then one runtime loop per
/// `AWS_LAMBDA_MAX_CONCURRENCY` slot (one on classic Lambda), all sharing the app: its HTTP
/// connections, credentials and token. The loop is lambda_runtime's, walked by us
/// ([`runtime_api`] says what differs and why); each event is made into a request
/// ([`event`]), and each answer leaves as the response document written once ([`envelope`]).
pub async fn serve(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = app_from_env();
    app.prepare_in_background();
    let slots = slots();
    let api = Arc::new(RuntimeApi::from_env(slots));
    let mut loops = tokio::task::JoinSet::new();
    for _ in 1..slots {
        loops.spawn(api.clone().run_slot(app.clone(), route));
    }
    // The last slot's loop runs here, not as a task of its own: one slot is the usual case.
    api.run_slot(app, route).await;
    Ok(())
}

/// The app as the environment configures it. A bad setting is one log line naming the
/// variable (never its value), and the process exits: a runtime loop without a configuration
/// would only fail every request.
fn app_from_env() -> App {
    match Config::from_env() {
        Ok(config) => App::new(config),
        Err(error) => {
            tracing::error!(%error, "cannot start: invalid configuration");
            std::process::exit(1)
        }
    }
}
