//! The Lambda process itself: logging, the configuration, the runtime loop.

use crate::api::{App, Route};
use crate::config::Config;

/// A Lambda function serving `route`: the whole `main` of each binary.
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
        async move { Ok::<_, lambda_http::Error>(app.handle(route, request).await) }
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
