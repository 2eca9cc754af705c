//! How long the first random draw of aws-lc takes in a fresh process: the first TLS handshake of
//! a cold start pays it. `cargo run --release -p bookings --example first_random`
//! (docs/performance.md: with and without `AWS_LC_SYS_NO_JITTER_ENTROPY`, .cargo/config.toml).

fn main() -> Result<(), rustls::Error> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let mut buffer = [0u8; 32];
    let started = std::time::Instant::now();
    provider
        .secure_random
        .fill(&mut buffer)
        .map_err(|_| rustls::Error::FailedToGetRandomBytes)?;
    let first = started.elapsed();
    let started = std::time::Instant::now();
    provider
        .secure_random
        .fill(&mut buffer)
        .map_err(|_| rustls::Error::FailedToGetRandomBytes)?;
    println!(
        "first random draw {first:?}, second {:?}",
        started.elapsed()
    );
    Ok(())
}
