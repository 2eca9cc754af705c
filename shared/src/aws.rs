//! The AWS SDK's configuration, loaded once per container for every AWS client we build, and
//! its errors reduced to what is safe to log.

use std::fmt;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

/// aws-config's resolved settings (region, credentials, endpoints), shared by the Secrets
/// Manager and DynamoDB clients.
#[derive(Default)]
pub(crate) struct AwsConfig(OnceCell<aws_config::SdkConfig>);

impl AwsConfig {
    pub(crate) async fn get(&self) -> &aws_config::SdkConfig {
        self.0
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                // Lambda hands the role's credentials over in environment variables. Taking them
                // from there skips building the default chain's providers, a measurable part of a
                // cold start (docs/performance.md); without them, the default chain decides as usual.
                if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
                    loader = loader.credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    );
                }
                if let Some(client) = http_client() {
                    loader = loader.http_client(client);
                }
                loader.load().await
            })
            .await
    }
}

/// The SDK's default HTTPS client, trusting only the roots AWS's own endpoints chain to:
/// Amazon Trust Services' (compiled in, from Mozilla's program) instead of the system's CA store.
///
/// Why not the system store: the SDK reads and parses it when the client is first built, on
/// the cold-start path, where it was most of a start-up's CPU (docs/performance.md). Why not all of Mozilla's roots, as OmniLab's client trusts: the SDK
/// takes them only as PEM and parses the whole store again for every connector it builds (one
/// when each client is validated, one per distinct timeout setting), and all of Mozilla's
/// roots made that a large share of a cold start's CPU (docs/performance.md). The SDK only ever calls AWS service
/// endpoints (Secrets Manager, DynamoDB, their FIPS and VPC endpoints alike), whose
/// certificates Amazon Trust Services issues, so trusting no one else also narrows whom these
/// calls trust. `None` (the SDK's default client) only if the roots were refused, which a test
/// rules out.
fn http_client() -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let mut roots = TrustStore::empty();
    roots.add_pem_certificate(aws_roots_pem());
    let context = TlsContext::builder().with_trust_store(roots).build().ok()?;
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https(),
    )
}

/// The roots of Amazon Trust Services, whose names these are: Amazon Root CA 1 to 4 and the
/// Starfield Services root that cross-signs them for older clients.
const AWS_ROOT_NAMES: [&[u8]; 5] = [
    b"Amazon Root CA 1",
    b"Amazon Root CA 2",
    b"Amazon Root CA 3",
    b"Amazon Root CA 4",
    b"Starfield Services Root Certificate Authority - G2",
];

/// Whether a root certificate (DER) is one of [`AWS_ROOT_NAMES`]: whether its issuer holds the
/// name as a whole attribute value, the DER string tag (UTF8String or PrintableString) and
/// length followed by those bytes, so `Amazon Root CA 1` is not found in a `... CA 10`. A
/// root's issuer is its own name, and comes within the first few hundred bytes (after the
/// version, serial number and signature algorithm): looking only there keeps this a pass over
/// the first part of each root rather than all of them. A test checks exactly five of Mozilla's match.
fn is_aws_root(certificate: &[u8]) -> bool {
    const UTF8_STRING: u8 = 0x0c;
    const PRINTABLE_STRING: u8 = 0x13;
    const ISSUER_WITHIN: usize = 256;
    let head = &certificate[..certificate.len().min(ISSUER_WITHIN)];
    (0..head.len().saturating_sub(2)).any(|at| {
        matches!(head[at], UTF8_STRING | PRINTABLE_STRING)
            && AWS_ROOT_NAMES.iter().any(|name| {
                usize::from(head[at + 1]) == name.len() && head[at + 2..].starts_with(name)
            })
    })
}

/// Amazon Trust Services' roots from the compiled-in Mozilla roots (webpki-root-certs), as one
/// PEM bundle, the only form the SDK's trust store takes. Public for `examples/roots_cost.rs`.
pub fn aws_roots_pem() -> Vec<u8> {
    pem_of(
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter(|certificate| is_aws_root(certificate)),
    )
}

/// Mozilla's root certificates as one PEM bundle, what the SDK trusted before
/// [`aws_roots_pem`]. Public for `examples/roots_cost.rs`, which times both.
pub fn mozilla_roots_pem() -> Vec<u8> {
    pem_of(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter())
}

fn pem_of<'a>(
    certificates: impl Iterator<Item = &'a rustls::pki_types::CertificateDer<'static>>,
) -> Vec<u8> {
    use base64::Engine;
    let mut pem = Vec::new();
    for certificate in certificates {
        let text = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// An AWS SDK error, reduced to what is safe to log: its kind, the service's error code and the
/// HTTP status. Never the error's `Debug` or `DisplayErrorContext`: for a response the SDK
/// could not parse, those carry the raw body, which for `GetSecretValue` is the secret itself
/// and for `GetItem` the access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkFailure {
    kind: &'static str,
    code: Option<String>,
    status: Option<u16>,
}

impl SdkFailure {
    pub(crate) fn of<E, R>(error: &SdkError<E, R>, status: impl Fn(&R) -> u16) -> Self
    where
        E: ProvideErrorMetadata,
    {
        let kind = match error {
            SdkError::ConstructionFailure(_) => "construction failure",
            SdkError::TimeoutError(_) => "timeout",
            SdkError::DispatchFailure(_) => "dispatch failure",
            SdkError::ResponseError(_) => "unreadable response",
            SdkError::ServiceError(_) => "service error",
            _ => "other",
        };
        // Error codes are identifiers such as `ResourceNotFoundException`; anything else is not
        // a code but text from a body we cannot vouch for.
        let code = match error {
            SdkError::ServiceError(service) => service.err().code(),
            _ => None,
        }
        .filter(|code| {
            code.len() <= 64
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
        })
        .map(str::to_owned);
        Self {
            kind,
            code,
            status: error.raw_response().map(status),
        }
    }

    /// Whether the service throttled the call: over in moments, unlike a refusal (access
    /// denied, a missing table, a request it will never take).
    pub(crate) fn throttled(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        )
    }
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(status) = self.status {
            write!(f, ", HTTP {status}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    /// The SDK's trust store turns each PEM certificate into a root with an `expect`: every one
    /// of ours must parse, or the first AWS call would panic. And they are exactly Amazon Trust
    /// Services' five, each found once.
    #[test]
    fn the_sdk_trusts_exactly_amazon_trust_services_roots() {
        let parse = |pem: &[u8]| {
            let certificates = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let mut roots = rustls::RootCertStore::empty();
            for certificate in &certificates {
                roots.add(certificate.clone()).unwrap();
            }
            certificates
        };
        let aws = parse(&aws_roots_pem());
        assert_eq!(aws.len(), AWS_ROOT_NAMES.len());
        for name in AWS_ROOT_NAMES {
            let holding = aws
                .iter()
                .filter(|c| c.windows(name.len()).any(|w| w == name))
                .count();
            assert_eq!(holding, 1, "{}", String::from_utf8_lossy(name));
        }
        // "Starfield Root Certificate Authority - G2" is another root, not Amazon's.
        assert!(!is_aws_root(
            b"\x13\x29Starfield Root Certificate Authority - G2"
        ));
        assert!(!is_aws_root(b"\x13\x11Amazon Root CA 10"));
        assert!(is_aws_root(b"\x13\x10Amazon Root CA 1\x30"));
        let all = parse(&mozilla_roots_pem());
        assert_eq!(all.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(http_client().is_some());
    }
}
