//! The Lambda process itself: logging, the configuration, the runtime loop.

use crate::api::{App, Route};
use crate::config::Config;

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
    builder.enable_all().build()?.block_on(serve(route))
}

/// Whether Lambda may hand this container several requests at once, as lambda_runtime reads it.
fn concurrent() -> bool {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
        .is_some_and(|slots| slots > 1)
}

/// A Lambda function serving `route`, on the runtime [`run`] chose.
///
/// Logging first, then the configuration, then one runtime loop per
/// `AWS_LAMBDA_MAX_CONCURRENCY` slot (one on classic Lambda), all sharing the app: its HTTP
/// connections, credentials and token.
pub async fn serve(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = app_from_env();
    app.prepare_in_background();
    lambda_http::run_concurrent(lambda_http::service_fn(move |request| {
        let app = app.clone();
        async move {
            let response = crate::telemetry::in_one_write(app.handle(route, request)).await;
            Ok::<_, lambda_http::Error>(response)
        }
    }))
    .await
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
