//! Settings, read from the environment once at start-up.
//!
//! A missing or invalid setting is reported naming the variable, never echoing its value: an
//! operator who pasted a secret into the wrong variable must not find it in the logs.

use std::net::IpAddr;
use std::time::Duration;

pub use crate::omnilab::UpstreamPolicy;
use crate::omnilab::{CredentialsSource, Settings};

/// Everything the functions need to run, one part per subsystem.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where OmniLab is, where its credentials are, how patiently to talk to it.
    pub omnilab: Settings,
    /// The JWT claim that holds the customer's external ID.
    pub external_id_claim: String,
    /// The EMF metrics written to the log: their namespace (`METRICS_NAMESPACE`, default
    /// `OmniLabBookings` in Lambda) and version; `None`: no metrics (local runs, in-process tests).
    pub metrics: Option<crate::metrics::Settings>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set")]
    Missing { var: &'static str },
    #[error("{var} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        reason: &'static str,
    },
}

/// The OmniLab environments a tenant can be provisioned in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Uat,
    Prod,
}

impl Environment {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "dev" => Some(Self::Dev),
            "uat" => Some(Self::Uat),
            "prod" => Some(Self::Prod),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Uat => "uat",
            Self::Prod => "prod",
        }
    }
}

pub const DEFAULT_EXTERNAL_ID_CLAIM: &str = "sub";

impl Config {
    /// OmniLab at `api_base` with `credentials`, and every other setting at the default a
    /// deployed function has when its variable is unset, but no metrics: for a local run or an
    /// in-process test, which change what they need afterwards.
    pub fn local(api_base: String, credentials: CredentialsSource) -> Self {
        Self {
            omnilab: Settings::new(api_base, credentials),
            external_id_claim: DEFAULT_EXTERNAL_ID_CLAIM.to_owned(),
            metrics: None,
        }
    }

    /// Reads the Lambda configuration from the process environment. Credentials always come
    /// from Secrets Manager here.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Same as [`Config::from_env`], over any lookup (so tests need not touch the process env).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| get(var).filter(|value| !value.trim().is_empty());
        let api_base = api_base(&get)?;
        let secret_id = get("OMNILAB_SECRET_ID").ok_or(ConfigError::Missing {
            var: "OMNILAB_SECRET_ID",
        })?;
        let external_id_claim = match get("EXTERNAL_ID_CLAIM") {
            None => DEFAULT_EXTERNAL_ID_CLAIM.to_owned(),
            Some(claim) if is_claim_name(&claim) => claim,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "EXTERNAL_ID_CLAIM",
                    reason: "must be a claim name without spaces",
                });
            }
        };
        let token_table = match get("OMNILAB_TOKEN_TABLE") {
            None => None,
            Some(name) if is_table_name(&name) => Some(name),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "OMNILAB_TOKEN_TABLE",
                    reason: "must be a DynamoDB table name: 3 to 255 of A-Z, a-z, 0-9, '_', '-', '.'",
                });
            }
        };
        let metrics_namespace = match get("METRICS_NAMESPACE") {
            None => crate::metrics::DEFAULT_NAMESPACE.to_owned(),
            Some(namespace) if is_namespace(&namespace) => namespace,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "METRICS_NAMESPACE",
                    reason: "must be a CloudWatch namespace: 1 to 255 of A-Z, a-z, 0-9 and . - _ / # :, not starting with AWS/",
                });
            }
        };
        let mut config = Self::local(api_base, CredentialsSource::SecretsManager { secret_id });
        config.external_id_claim = external_id_claim;
        config.omnilab.token_table = token_table;
        config.metrics = Some(crate::metrics::Settings {
            namespace: metrics_namespace,
            version: crate::metrics::Settings::published_version(get(
                "AWS_LAMBDA_FUNCTION_VERSION",
            )),
        });
        if let Some(timeout) = millis(
            &get,
            "OMNILAB_TIMEOUT_MS",
            100..=29_000,
            "must be milliseconds between 100 and 29000",
        )? {
            config.omnilab.policy.attempt_timeout = timeout;
        }
        if let Some(age) = millis(
            &get,
            "OMNILAB_CREDENTIALS_MAX_AGE_MS",
            1_000..=86_400_000,
            "must be milliseconds between 1000 and 86400000",
        )? {
            config.omnilab.credentials_max_age = age;
        }
        #[cfg(feature = "test-tls")]
        {
            config.omnilab.test_tls = test_tls(&get)?;
        }
        Ok(config)
    }
}

/// An optional duration in whole milliseconds within `range`.
fn millis(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    range: std::ops::RangeInclusive<u64>,
    reason: &'static str,
) -> Result<Option<Duration>, ConfigError> {
    get(var)
        .map(|ms| {
            ms.parse::<u64>()
                .ok()
                .filter(|ms| range.contains(ms))
                .map(Duration::from_millis)
                .ok_or(ConfigError::Invalid { var, reason })
        })
        .transpose()
}

/// Feature `test-tls`: what lets a test process reach a sandbox over HTTPS under OmniLab's host
/// name. `TEST_ONLY_OMNILAB_ROOT_CA` is a PEM file of a root certificate to trust as well;
/// `TEST_ONLY_OMNILAB_RESOLVE` is `host=ip:port`, the address OmniLab's host resolves to.
#[cfg(feature = "test-tls")]
fn test_tls(get: &impl Fn(&str) -> Option<String>) -> Result<crate::omnilab::TestTls, ConfigError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    const ROOT: &str = "TEST_ONLY_OMNILAB_ROOT_CA";
    const RESOLVE: &str = "TEST_ONLY_OMNILAB_RESOLVE";
    let root_certificate = match get(ROOT) {
        None => None,
        Some(path) => Some(
            CertificateDer::from_pem_file(path)
                .map_err(|_| ConfigError::Invalid {
                    var: ROOT,
                    reason: "must be a PEM file holding a certificate",
                })?
                .to_vec(),
        ),
    };
    let resolve = match get(RESOLVE) {
        None => None,
        Some(text) => Some(
            text.split_once('=')
                .and_then(|(host, addr)| Some((host.to_owned(), addr.parse().ok()?)))
                .ok_or(ConfigError::Invalid {
                    var: RESOLVE,
                    reason: "must be host=ip:port",
                })?,
        ),
    };
    Ok(crate::omnilab::TestTls {
        root_certificate,
        resolve,
    })
}

/// OmniLab's base URL from `OMNILAB_API_HOST`, else `OMNILAB_TENANT` and `OMNILAB_ENVIRONMENT`,
/// as `get` gives them: the functions' rule, and `check-credentials`' from its flags.
pub(crate) fn api_base(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    if let Some(host) = get("OMNILAB_API_HOST") {
        return parse_api_host(&host);
    }
    let tenant = get("OMNILAB_TENANT").ok_or(ConfigError::Missing {
        var: "OMNILAB_TENANT",
    })?;
    if !is_dns_label(&tenant) {
        return Err(ConfigError::Invalid {
            var: "OMNILAB_TENANT",
            reason: "must be a lower-case tenant key (letters, digits, hyphens)",
        });
    }
    let env = get("OMNILAB_ENVIRONMENT").ok_or(ConfigError::Missing {
        var: "OMNILAB_ENVIRONMENT",
    })?;
    let env = Environment::parse(&env).ok_or(ConfigError::Invalid {
        var: "OMNILAB_ENVIRONMENT",
        reason: "must be one of dev, uat, prod",
    })?;
    Ok(format!(
        "https://{tenant}.api.omnilab-{}.21-digital.com",
        env.as_str()
    ))
}

/// An explicit base URL: `https://` anywhere, `http://` only on loopback (local runs and tests),
/// so a typo can never send the client secret over plain HTTP across a network.
pub fn parse_api_host(text: &str) -> Result<String, ConfigError> {
    const VAR: &str = "OMNILAB_API_HOST";
    let invalid = |reason| ConfigError::Invalid { var: VAR, reason };
    let url = reqwest::Url::parse(text.trim()).map_err(|_| invalid("must be an absolute URL"))?;
    let host = url.host_str().ok_or(invalid("must name a host"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => return Err(invalid("http:// is accepted only for loopback addresses")),
        _ => return Err(invalid("must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_dns_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// DynamoDB's rule for table names. A full table ARN is not accepted: the functions only ever
/// use their own stack's table, by name.
fn is_table_name(text: &str) -> bool {
    (3..=255).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn is_namespace(text: &str) -> bool {
    (1..=255).contains(&text.len())
        && !text.starts_with("AWS/")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#:".contains(&b))
}

fn is_claim_name(text: &str) -> bool {
    text.len() <= 256 && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    const SECRET: (&str, &str) = ("OMNILAB_SECRET_ID", "omnilab/uat");
    const HOST: (&str, &str) = ("OMNILAB_API_HOST", "https://acme.example.com");

    /// The least a function needs (a host and a secret), and `var` set to `value`.
    fn with(var: &str, value: &str) -> Result<Config, ConfigError> {
        config(&[HOST, SECRET, (var, value)])
    }

    /// Each of `values` is refused, naming `var`.
    fn assert_refused(var: &str, values: &[&str]) {
        for value in values {
            match with(var, value) {
                Err(ConfigError::Invalid { var: named, .. }) => assert_eq!(named, var, "{value}"),
                other => panic!("{var}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn builds_the_host_from_tenant_and_environment() {
        let c = config(&[
            ("OMNILAB_TENANT", "example-brand"),
            ("OMNILAB_ENVIRONMENT", "uat"),
            SECRET,
        ])
        .unwrap();
        assert_eq!(
            c.omnilab.api_base,
            "https://example-brand.api.omnilab-uat.21-digital.com"
        );
        assert_eq!(c.external_id_claim, "sub");
        assert!(
            matches!(c.omnilab.credentials, CredentialsSource::SecretsManager { ref secret_id } if secret_id == "omnilab/uat")
        );
    }

    #[test]
    fn the_token_table_is_optional_and_must_be_a_table_name() {
        assert_eq!(config(&[HOST, SECRET]).unwrap().omnilab.token_table, None);
        let table = "bookings-prod-OmniLabTokenTable-1A2B3C";
        let named = with("OMNILAB_TOKEN_TABLE", table).unwrap();
        assert_eq!(named.omnilab.token_table.as_deref(), Some(table));
        let too_long = "t".repeat(256);
        assert_refused(
            "OMNILAB_TOKEN_TABLE",
            &[
                "ab",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
                "a b c",
                &too_long,
            ],
        );
    }

    #[test]
    fn metrics_go_to_a_namespace_of_our_own() {
        let namespace = |config: Config| config.metrics.map(|m| m.namespace);
        let default = config(&[HOST, SECRET]).unwrap();
        assert_eq!(namespace(default).as_deref(), Some("OmniLabBookings"));
        let named = with("METRICS_NAMESPACE", "Brand/Bookings-prod").unwrap();
        assert_eq!(namespace(named).as_deref(), Some("Brand/Bookings-prod"));
        let too_long = "n".repeat(256);
        assert_refused("METRICS_NAMESPACE", &["AWS/Lambda", "a b", &too_long]);
    }

    #[test]
    fn an_explicit_host_wins() {
        let c = config(&[
            ("OMNILAB_API_HOST", "https://acme.example.com/"),
            ("EXTERNAL_ID_CLAIM", "custom:external_id"),
            SECRET,
        ])
        .unwrap();
        assert_eq!(c.omnilab.api_base, "https://acme.example.com");
        assert_eq!(c.external_id_claim, "custom:external_id");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(parse_api_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://acme.example.com",
            "ftp://127.0.0.1",
            "acme.example.com",
            "https://user:pw@acme.example.com",
            "https://acme.example.com/?x=1",
        ] {
            assert!(
                matches!(
                    parse_api_host(bad),
                    Err(ConfigError::Invalid {
                        var: "OMNILAB_API_HOST",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        assert_eq!(
            config(&[("OMNILAB_TENANT", "acme"), SECRET]).unwrap_err(),
            ConfigError::Missing {
                var: "OMNILAB_ENVIRONMENT"
            }
        );
        assert!(matches!(
            config(&[
                ("OMNILAB_TENANT", "acme"),
                ("OMNILAB_ENVIRONMENT", "staging"),
                SECRET
            ]),
            Err(ConfigError::Invalid {
                var: "OMNILAB_ENVIRONMENT",
                ..
            })
        ));
        assert!(matches!(
            config(&[
                ("OMNILAB_TENANT", "Acme Inc"),
                ("OMNILAB_ENVIRONMENT", "dev"),
                SECRET
            ]),
            Err(ConfigError::Invalid {
                var: "OMNILAB_TENANT",
                ..
            })
        ));
        assert_eq!(
            config(&[("OMNILAB_TENANT", "acme"), ("OMNILAB_ENVIRONMENT", "dev")]).unwrap_err(),
            ConfigError::Missing {
                var: "OMNILAB_SECRET_ID"
            }
        );
        assert_refused("OMNILAB_TIMEOUT_MS", &["0", "29001", "5s"]);
        assert_refused(
            "OMNILAB_CREDENTIALS_MAX_AGE_MS",
            &["999", "86400001", "15m"],
        );
    }

    #[test]
    fn credentials_are_checked_against_the_secret_every_quarter_hour_unless_told() {
        let default = config(&[HOST, SECRET]).unwrap();
        assert_eq!(
            default.omnilab.credentials_max_age,
            Duration::from_secs(900)
        );
        let told = with("OMNILAB_CREDENTIALS_MAX_AGE_MS", "60000").unwrap();
        assert_eq!(told.omnilab.credentials_max_age, Duration::from_secs(60));
    }

    #[test]
    fn the_error_never_echoes_the_value() {
        let err = config(&[("OMNILAB_API_HOST", "http://s3cr3t-value.example"), SECRET])
            .unwrap_err()
            .to_string();
        assert!(err.contains("OMNILAB_API_HOST"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[cfg(feature = "test-tls")]
    #[test]
    fn the_test_only_tls_variables_are_checked_and_named() {
        let base = [
            ("OMNILAB_TENANT", "acme"),
            ("OMNILAB_ENVIRONMENT", "dev"),
            SECRET,
        ];
        let resolve = |value| {
            let mut vars = base.to_vec();
            vars.push(("TEST_ONLY_OMNILAB_RESOLVE", value));
            config(&vars)
        };
        let set = resolve("acme.api.omnilab-dev.21-digital.com=127.0.0.1:8443").unwrap();
        assert_eq!(
            set.omnilab.test_tls.resolve,
            Some((
                "acme.api.omnilab-dev.21-digital.com".to_owned(),
                "127.0.0.1:8443".parse().unwrap()
            ))
        );
        for bad in ["127.0.0.1:8443", "acme=localhost:8443", "acme=127.0.0.1"] {
            assert_eq!(
                resolve(bad).unwrap_err(),
                ConfigError::Invalid {
                    var: "TEST_ONLY_OMNILAB_RESOLVE",
                    reason: "must be host=ip:port"
                }
            );
        }
        let mut vars = base.to_vec();
        vars.push(("TEST_ONLY_OMNILAB_ROOT_CA", "/nonexistent/root.pem"));
        assert!(matches!(
            config(&vars).unwrap_err(),
            ConfigError::Invalid {
                var: "TEST_ONLY_OMNILAB_ROOT_CA",
                ..
            }
        ));
        assert!(
            config(&base)
                .unwrap()
                .omnilab
                .test_tls
                .root_certificate
                .is_none()
        );
    }
}
