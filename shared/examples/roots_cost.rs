//! What building each trust store costs in a fresh process, the cold-start work of
//! `aws.rs` and `omnilab/transport.rs`: the compiled-in Mozilla roots as anchors
//! (OmniLab's client), the same roots through the PEM form the AWS SDK's trust store takes, the
//! five of Amazon Trust Services that the SDK now trusts (each connector it builds parses them),
//! and the system store the SDK would otherwise read. `cargo run --release -p bookings --example
//! roots_cost` (docs/performance.md).

use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = work();
    (out, started.elapsed())
}

fn main() {
    let certificates = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
    let (anchors, as_anchors) = timed(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(certificates.iter().cloned());
        roots.len()
    });
    let (pem, encode) = timed(bookings::aws::mozilla_roots_pem);
    let (decoded, decode) = timed(|| {
        CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map(|c| c.len())
    });
    let (aws, aws_round_trip) = timed(|| {
        let pem = bookings::aws::aws_roots_pem();
        CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map(|c| c.len())
    });
    let (system, read_system) = timed(|| rustls_native_certs::load_native_certs().certs.len());
    println!(
        "{anchors} anchors from {} compiled-in certificates: {as_anchors:?}; as PEM for the SDK: encode {encode:?}, decode {decode:?} ({decoded:?}); Amazon Trust Services' roots as PEM, encoded and decoded: {aws_round_trip:?} ({aws:?}); the system store: {system} certificates read in {read_system:?}",
        certificates.len()
    );
}
