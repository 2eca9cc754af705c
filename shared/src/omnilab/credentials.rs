use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell};

use super::Call;

/// OmniLab's client credentials, as stored in the secret: `{"client_id", "client_secret", "audience"}`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub audience: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audience", &self.audience)
            .finish()
    }
}

/// Where the credentials come from. The Lambda binaries only ever use Secrets Manager.
#[derive(Clone, Debug)]
pub enum CredentialsSource {
    SecretsManager {
        secret_id: String,
    },
    /// Fixed credentials, for local runs against the sandbox.
    Static(Credentials),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialsError {
    #[error("Secrets Manager could not be read: {0}")]
    Unavailable(String),
    #[error("Secrets Manager did not answer in time")]
    Timeout,
    #[error(
        "the secret is not JSON of the shape {{\"client_id\", \"client_secret\", \"audience\"}} ({0})"
    )]
    Malformed(&'static str),
}

/// The credentials, read once per warm container and kept.
pub(crate) struct CredentialStore {
    source: CredentialsSource,
    // Built off the start-up path (see `App::prepare`): aws-config's discovery takes a few
    // milliseconds that need not delay the first poll for work.
    client: OnceCell<aws_sdk_secretsmanager::Client>,
    // Held across the read, so concurrent cold requests cause one read.
    current: Mutex<Option<Arc<Credentials>>>,
    reads: AtomicU64,
}

impl CredentialStore {
    pub(crate) fn new(source: CredentialsSource) -> Self {
        Self {
            source,
            client: OnceCell::new(),
            current: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// Builds the Secrets Manager client ahead of the first request (no network: aws-config
    /// only reads the environment and builds its providers).
    pub(crate) async fn prepare(&self) {
        if let CredentialsSource::SecretsManager { .. } = self.source {
            self.client().await;
        }
    }

    async fn client(&self) -> &aws_sdk_secretsmanager::Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                // Lambda hands the role's credentials over in environment variables. Taking them
                // from there skips building the default chain's providers, ~5 ms of a cold start
                // (README, Performance); without them, the default chain decides as usual.
                if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
                    loader = loader.credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    );
                }
                aws_sdk_secretsmanager::Client::new(&loader.load().await)
            })
            .await
    }

    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub(crate) async fn get(&self, call: &Call) -> Result<Arc<Credentials>, CredentialsError> {
        let mut current = self.current.lock().await;
        if let Some(credentials) = current.as_ref() {
            return Ok(credentials.clone());
        }
        let fresh = Arc::new(self.read(call).await?);
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// `rejected` did not work: read the source again (the secret may have been rotated),
    /// unless a concurrent request has already done so.
    pub(crate) async fn reread(
        &self,
        call: &Call,
        rejected: &Arc<Credentials>,
    ) -> Result<Arc<Credentials>, CredentialsError> {
        let mut current = self.current.lock().await;
        if let Some(credentials) = current.as_ref().filter(|c| !Arc::ptr_eq(c, rejected)) {
            return Ok(credentials.clone());
        }
        let fresh = Arc::new(self.read(call).await?);
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    async fn read(&self, call: &Call) -> Result<Credentials, CredentialsError> {
        let secret_id = match &self.source {
            CredentialsSource::Static(credentials) => return Ok(credentials.clone()),
            CredentialsSource::SecretsManager { secret_id } => secret_id,
        };
        let client = self.client().await;
        call.count();
        self.reads.fetch_add(1, Ordering::Relaxed);
        let request = client.get_secret_value().secret_id(secret_id).send();
        let output = tokio::time::timeout(call.remaining(), request)
            .await
            .map_err(|_| CredentialsError::Timeout)?
            .map_err(|error| {
                CredentialsError::Unavailable(DisplayErrorContext(&error).to_string())
            })?;
        let text = output
            .secret_string()
            .ok_or(CredentialsError::Malformed("not a string secret"))?;
        parse(text)
    }
}

fn parse(text: &str) -> Result<Credentials, CredentialsError> {
    // serde's message could quote the secret: keep only its category.
    let credentials: Credentials = serde_json::from_str(text).map_err(|error| {
        CredentialsError::Malformed(match error.classify() {
            serde_json::error::Category::Data => "missing or mistyped field",
            _ => "not JSON",
        })
    })?;
    let blank = |s: &str| s.trim().is_empty();
    if blank(&credentials.client_id)
        || blank(&credentials.client_secret)
        || blank(&credentials.audience)
    {
        return Err(CredentialsError::Malformed("empty field"));
    }
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape() {
        let c = parse(r#"{"client_id":"id","client_secret":"s3cr3t","audience":"aud"}"#).unwrap();
        assert_eq!(c.client_id, "id");
        assert_eq!(c.client_secret, "s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn malformed_secrets_are_not_echoed() {
        for text in [
            r#"{"client_id":"id","client_secret":12345678,"audience":"aud"}"#,
            r#"{"client_id":"id","audience":"aud"}"#,
            "s3cr3t",
            r#"{"client_id":"id","client_secret":" ","audience":"aud"}"#,
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(
                !error.contains("12345678") && !error.contains("s3cr3t"),
                "{error}"
            );
        }
    }
}
