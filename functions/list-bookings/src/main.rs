//! `list-bookings`: the Lambda behind `GET /bookings`. All the work is in the shared crate.

use bookings::{App, Route};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bookings::telemetry::init();
    // A bad setting has been logged, naming the variable; a runtime loop without config would
    // only fail every request.
    let Ok(app) = App::from_env() else {
        std::process::exit(1);
    };
    app.prepare_in_background();
    // One runtime loop per AWS_LAMBDA_MAX_CONCURRENCY slot (one on classic Lambda), sharing `app`.
    lambda_http::run_concurrent(service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Error>(app.handle(Route::ListBookings, request).await) }
    }))
    .await
}
