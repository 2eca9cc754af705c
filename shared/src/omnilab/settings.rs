//! What the OmniLab client is built from: where OmniLab is, where the credentials are, and how
//! patiently to talk to it.

use std::time::Duration;

use super::CredentialsSource;

/// The default of [`Settings::credentials_max_age`].
pub const CREDENTIALS_MAX_AGE: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug)]
pub struct Settings {
    /// OmniLab's base URL, without a trailing slash (`https://<tenant>.api.omnilab-<env>.21-digital.com`).
    pub api_base: String,
    pub credentials: CredentialsSource,
    /// How long a container keeps its credentials, and the token issued for them, before it
    /// reads the secret again to see whether it now names another client
    /// (`OMNILAB_CREDENTIALS_MAX_AGE_MS`).
    pub credentials_max_age: Duration,
    /// The DynamoDB table through which the fleet shares one token (`OMNILAB_TOKEN_TABLE`).
    /// Used only with Secrets Manager credentials; without it, each container has its own.
    pub token_table: Option<String>,
    pub policy: UpstreamPolicy,
    #[cfg(feature = "test-tls")]
    pub test_tls: TestTls,
}

impl Settings {
    /// OmniLab at `api_base` with `credentials`, everything else as a deployed function has it
    /// unless told otherwise: no shared table, the default policy.
    pub fn new(api_base: String, credentials: CredentialsSource) -> Self {
        Self {
            api_base,
            credentials,
            credentials_max_age: CREDENTIALS_MAX_AGE,
            token_table: None,
            policy: UpstreamPolicy::default(),
            #[cfg(feature = "test-tls")]
            test_tls: TestTls::default(),
        }
    }
}

/// How the tests, the benchmark and the dev server reach a sandbox over HTTPS under OmniLab's
/// own host name (feature `test-tls`, never in the Lambda binaries).
#[cfg(feature = "test-tls")]
#[derive(Clone, Debug, Default)]
pub struct TestTls {
    /// A root certificate (DER) trusted as well as the compiled-in Mozilla roots.
    pub root_certificate: Option<Vec<u8>>,
    /// OmniLab's host name and the address it resolves to, instead of asking DNS.
    pub resolve: Option<(String, std::net::SocketAddr)>,
}

/// How patiently we talk to OmniLab.
#[derive(Clone, Debug)]
pub struct UpstreamPolicy {
    /// The longest one upstream attempt may take.
    pub attempt_timeout: Duration,
    /// Attempts for a call that is safe to repeat, the first one included.
    pub max_attempts: u32,
    /// First backoff step; doubled on each retry, with full jitter.
    pub base_backoff: Duration,
    /// Requests that arrive without a Lambda deadline (local runs) get this much time.
    pub default_budget: Duration,
    /// How many result pages `all=true` fetches at the same time.
    pub page_concurrency: usize,
}

impl Default for UpstreamPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(5),
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
            default_budget: Duration::from_secs(25),
            page_concurrency: 10,
        }
    }
}
