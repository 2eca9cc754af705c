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
                // from there skips building the default chain's providers, ~5 ms of a cold start
                // (README, Performance); without them, the default chain decides as usual.
                if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
                    loader = loader.credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    );
                }
                loader.load().await
            })
            .await
    }
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
