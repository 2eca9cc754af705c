//! `cargo run -p dev-server`: the product on your machine, no AWS account needed. What it
//! serves and how to configure it: the library's documentation (`src/lib.rs`) and
//! docs/local.md.

#[tokio::main]
async fn main() {
    bookings::telemetry::init();
    if let Err(error) = dev_server::run().await {
        tracing::error!(%error, "dev server stopped");
        std::process::exit(1);
    }
}
