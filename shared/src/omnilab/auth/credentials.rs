//! OmniLab's client credentials: their one shape check, and the container's copy of them, read
//! from Secrets Manager when a token exchange first needs them.
//!
//! The shape check ([`Credentials::from_secret_string`]) is the one the functions apply to the
//! secret and the one `check-credentials` applies to a candidate before it goes into the
//! secret, so a value the command accepts is a value the functions accept. What it reports
//! names a field and what is wrong with it, never a value: the secret's text may be anywhere in
//! a malformed one.

use std::fmt;
use std::sync::Arc;
#[cfg(feature = "stats")]
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OnceCell};

use crate::aws::{AwsConfig, SdkFailure};
use crate::omnilab::Budget;
use crate::omnilab::error::{CredentialsError, Shape};

/// OmniLab's client credentials, as stored in the secret: `{"client_id", "client_secret", "audience"}`
/// ([`Credentials::from_secret_string`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub audience: String,
}

impl Credentials {
    /// Which client these credentials are, for a token to record ([`ClientFingerprint`]).
    pub(crate) fn fingerprint(&self) -> ClientFingerprint {
        // A separator no id or audience contains, so that no two pairs hash the same text.
        let text = [self.client_id.as_bytes(), b"\0", self.audience.as_bytes()].concat();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &text);
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_ref()[..8]);
        ClientFingerprint(u64::from_be_bytes(first))
    }
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

/// Which OmniLab client a token was issued to: the first 8 bytes of a SHA-256 of the client id
/// and the audience, written as 16 hex digits in the shared table.
///
/// Why not the client id itself: the table needs to tell clients apart, not to name them. Why
/// not the secret too: a rotated secret of the same client keeps that client's tokens valid, and
/// containers holding the old and the new secret must agree that they share one token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientFingerprint(u64);

impl ClientFingerprint {
    /// 16 lower-case hex digits, as the table holds it.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        // from_str_radix alone would take upper case and a leading `+`: not what we write.
        if text.len() != 16 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(Self)
    }

    pub(crate) fn to_hex(self) -> String {
        format!("{:016x}", self.0)
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

/// How long a failed read is answered again before the secret is read anew. A secret that is
/// missing, malformed or still a placeholder needs an operator, who takes longer than this;
/// re-reading on every request would only turn each one into a Secrets Manager call.
pub(crate) const REREAD_INTERVAL: Duration = Duration::from_secs(5);
/// An outage of Secrets Manager itself is remembered briefly, so concurrent requests share it.
const OUTAGE_MEMORY: Duration = Duration::from_secs(1);

/// The credentials, read once per warm container and kept.
pub(crate) struct CredentialStore {
    source: CredentialsSource,
    aws: Arc<AwsConfig>,
    // Built off the start-up path (see `App::prepare`): aws-config's discovery takes a few
    // milliseconds that need not delay the first poll for work.
    client: OnceCell<aws_sdk_secretsmanager::Client>,
    // Held across the read, so concurrent cold requests cause one read and share its outcome.
    state: Mutex<State>,
    #[cfg(feature = "stats")]
    reads: AtomicU64,
}

#[derive(Default)]
struct State {
    current: Option<Arc<Credentials>>,
    /// When `current` was read from the source.
    read_at: Option<Instant>,
    /// The last read's failure, answered to every request until the instant it holds.
    failed: Option<(CredentialsError, Instant)>,
    /// When OmniLab's refusal of the credentials last made us read the secret again. The first
    /// refusal after they worked is read again at once (a rotation); repeats wait their turn.
    last_reread: Option<Instant>,
}

impl CredentialStore {
    pub(crate) fn new(source: CredentialsSource, aws: Arc<AwsConfig>) -> Self {
        Self {
            source,
            aws,
            client: OnceCell::new(),
            state: Mutex::new(State::default()),
            #[cfg(feature = "stats")]
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
            .get_or_init(|| async { aws_sdk_secretsmanager::Client::new(self.aws.get().await) })
            .await
    }

    #[cfg(feature = "stats")]
    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub(crate) async fn get(&self, budget: &Budget) -> Result<Arc<Credentials>, CredentialsError> {
        let mut state = self.state.lock().await;
        if let Some(credentials) = &state.current {
            return Ok(credentials.clone());
        }
        if let Some((error, until)) = &state.failed
            && Instant::now() < *until
        {
            return Err(error.clone());
        }
        self.read_into(&mut state, budget).await
    }

    /// The credentials and when they were read from the source: read again first unless that
    /// was less than `unless_within` ago. For a container with reason to think the secret
    /// changed (the shared token names another client, or its credentials are old): a failure
    /// to read it leaves the credentials in hand as they were, for the caller to keep using.
    pub(crate) async fn refresh(
        &self,
        budget: &Budget,
        unless_within: Duration,
    ) -> Result<(Arc<Credentials>, Instant), CredentialsError> {
        let mut state = self.state.lock().await;
        if let (Some(current), Some(at)) = (&state.current, state.read_at)
            && at.elapsed() < unless_within
        {
            return Ok((current.clone(), at));
        }
        if state.current.is_none() {
            let credentials = self.read_into(&mut state, budget).await?;
            return Ok((credentials, state.read_at.unwrap_or_else(Instant::now)));
        }
        let fresh = Arc::new(self.read(budget).await?);
        let now = Instant::now();
        state.current = Some(fresh.clone());
        state.read_at = Some(now);
        Ok((fresh, now))
    }

    /// The credentials in hand and when they were read, without reading them if there are
    /// none.
    pub(crate) async fn known(&self) -> Option<(Arc<Credentials>, Instant)> {
        let state = self.state.lock().await;
        state.current.clone().zip(state.read_at)
    }

    /// `rejected` did not work: read the source again (the secret may have been rotated),
    /// unless a concurrent request already did, or the secret was read a moment ago. `None`
    /// means there is nothing newer to try.
    pub(crate) async fn reread(
        &self,
        budget: &Budget,
        rejected: &Arc<Credentials>,
    ) -> Result<Option<Arc<Credentials>>, CredentialsError> {
        let mut state = self.state.lock().await;
        if let Some(credentials) = state.current.as_ref().filter(|c| !Arc::ptr_eq(c, rejected)) {
            return Ok(Some(credentials.clone()));
        }
        let now = Instant::now();
        if state
            .last_reread
            .is_some_and(|at| now.saturating_duration_since(at) < REREAD_INTERVAL)
        {
            return Ok(None);
        }
        state.last_reread = Some(now);
        let fresh = self.read_into(&mut state, budget).await?;
        Ok((*fresh != **rejected).then_some(fresh))
    }

    async fn read_into(
        &self,
        state: &mut State,
        budget: &Budget,
    ) -> Result<Arc<Credentials>, CredentialsError> {
        let outcome = self.read(budget).await.map(Arc::new);
        let now = Instant::now();
        match &outcome {
            Ok(credentials) => {
                state.current = Some(credentials.clone());
                state.read_at = Some(now);
                state.failed = None;
            }
            // The read is bounded by the request's own time: its timeout says nothing about
            // Secrets Manager, and a patient request behind it must still try.
            Err(CredentialsError::Timeout) if budget.spent() => {}
            Err(error) => {
                let memory = match error {
                    CredentialsError::Unavailable(_) | CredentialsError::Timeout => OUTAGE_MEMORY,
                    CredentialsError::Malformed(_) | CredentialsError::Placeholder => {
                        REREAD_INTERVAL
                    }
                };
                state.current = None;
                state.failed = Some((error.clone(), now + memory));
            }
        }
        outcome
    }

    async fn read(&self, budget: &Budget) -> Result<Credentials, CredentialsError> {
        let secret_id = match &self.source {
            CredentialsSource::Static(credentials) => return Ok(credentials.clone()),
            CredentialsSource::SecretsManager { secret_id } => secret_id,
        };
        let client = self.client().await;
        budget.count();
        budget.record().with(|tally| tally.secret_reads += 1);
        #[cfg(feature = "stats")]
        self.reads.fetch_add(1, Ordering::Relaxed);
        let request = client.get_secret_value().secret_id(secret_id).send();
        let output = tokio::time::timeout(budget.remaining(), request)
            .await
            .map_err(|_| CredentialsError::Timeout)?
            .map_err(|error| {
                CredentialsError::Unavailable(SdkFailure::of(&error, |raw| raw.status().as_u16()))
            })?;
        let text = output
            .secret_string()
            .ok_or(CredentialsError::Malformed(Shape::Binary))?;
        Credentials::from_secret_string(text).inspect_err(|error| {
            if let CredentialsError::Placeholder = error {
                // The secret's name is not secret, and it is what the operator needs.
                tracing::error!(
                    secret_id = %secret_id,
                    "the OmniLab secret still holds the template's placeholders: put the real client_id, client_secret and audience into it (aws secretsmanager put-secret-value); no redeploy is needed"
                );
            }
        })
    }
}

/// What the template's created secret holds until an operator fills it in.
const PLACEHOLDER: &str = "REPLACE_ME";

impl Credentials {
    /// The credentials in a secret's text, `{"client_id", "client_secret", "audience"}`, each a
    /// string that is neither blank nor the template's placeholder. Other fields are ignored.
    pub fn from_secret_string(text: &str) -> Result<Self, CredentialsError> {
        // serde's messages could quote the secret: only the category of its error is kept.
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|error| {
                CredentialsError::Malformed(match error.classify() {
                    serde_json::error::Category::Data => Shape::NotAnObject,
                    _ => Shape::NotJson,
                })
            })?;
        let field = |name: &'static str| match object.get(name) {
            None => Err(CredentialsError::Malformed(Shape::Missing(name))),
            Some(serde_json::Value::String(value)) => Ok(value.clone()),
            Some(_) => Err(CredentialsError::Malformed(Shape::NotAString(name))),
        };
        let credentials = Self {
            client_id: field(FIELDS[0])?,
            client_secret: field(FIELDS[1])?,
            audience: field(FIELDS[2])?,
        };
        let fields = [
            &credentials.client_id,
            &credentials.client_secret,
            &credentials.audience,
        ];
        if fields.iter().any(|field| field.trim() == PLACEHOLDER) {
            return Err(CredentialsError::Placeholder);
        }
        if let Some((name, _)) = FIELDS
            .iter()
            .zip(fields)
            .find(|(_, field)| field.trim().is_empty())
        {
            return Err(CredentialsError::Malformed(Shape::Empty(name)));
        }
        Ok(credentials)
    }
}

/// The secret's fields, in the order they are checked and named.
const FIELDS: [&str; 3] = ["client_id", "client_secret", "audience"];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Credentials, CredentialsError> {
        Credentials::from_secret_string(text)
    }

    #[test]
    fn parses_the_documented_shape() {
        let c = parse(r#"{"client_id":"id","client_secret":"s3cr3t","audience":"aud"}"#).unwrap();
        assert_eq!(c.client_id, "id");
        assert_eq!(c.client_secret, "s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let more = r#"{"client_id":"id","client_secret":"s","audience":"aud","note":1}"#;
        assert!(parse(more).is_ok(), "other fields are ignored");
    }

    #[test]
    fn a_fingerprint_tells_clients_apart_and_ignores_the_secret() {
        let c = |id: &str, secret: &str, audience: &str| Credentials {
            client_id: id.into(),
            client_secret: secret.into(),
            audience: audience.into(),
        };
        let one = c("id", "s3cr3t", "aud").fingerprint();
        assert_eq!(one, c("id", "rotated", "aud").fingerprint());
        assert_ne!(one, c("other", "s3cr3t", "aud").fingerprint());
        assert_ne!(one, c("id", "s3cr3t", "other").fingerprint());
        assert_ne!(
            c("a", "s", "bc").fingerprint(),
            c("ab", "s", "c").fingerprint()
        );
        let hex = one.to_hex();
        assert_eq!(hex.len(), 16);
        assert_eq!(ClientFingerprint::parse(&hex), Some(one));
        for bad in [
            "",
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdef0",
            "+123456789abcdef",
        ] {
            assert_eq!(ClientFingerprint::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_templates_placeholder_is_recognised() {
        let text =
            r#"{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME","audience":"REPLACE_ME"}"#;
        assert!(matches!(parse(text), Err(CredentialsError::Placeholder)));
        let half = r#"{"client_id":"id","client_secret":"REPLACE_ME","audience":"aud"}"#;
        assert!(matches!(parse(half), Err(CredentialsError::Placeholder)));
    }

    #[test]
    fn what_is_wrong_is_named_by_field() {
        let cases = [
            (
                r#"{"client_id":"id","audience":"aud"}"#,
                Shape::Missing("client_secret"),
            ),
            (
                r#"{"client_id":"id","client_secret":12345678,"audience":"aud"}"#,
                Shape::NotAString("client_secret"),
            ),
            (
                r#"{"client_id":null,"client_secret":"s","audience":"aud"}"#,
                Shape::NotAString("client_id"),
            ),
            (
                r#"{"client_id":"id","client_secret":"s","audience":" "}"#,
                Shape::Empty("audience"),
            ),
            (r#"["id","s3cr3t","aud"]"#, Shape::NotAnObject),
            (r#""s3cr3t""#, Shape::NotAnObject),
            ("s3cr3t", Shape::NotJson),
            (
                r#"{"client_id":"id","client_secret":"s3cr3t""#,
                Shape::NotJson,
            ),
        ];
        for (text, shape) in cases {
            assert_eq!(
                parse(text).map(|_| ()).map_err(|e| e.to_string()),
                Err(CredentialsError::Malformed(shape).to_string()),
                "{text}"
            );
        }
        assert_eq!(
            Shape::Missing("client_secret").to_string(),
            "missing field client_secret"
        );
    }

    #[test]
    fn malformed_secrets_are_not_echoed() {
        for text in [
            r#"{"client_id":"id","client_secret":12345678,"audience":"aud"}"#,
            r#"{"client_id":"id","audience":"aud"}"#,
            "s3cr3t",
            r#"{"client_id":"id","client_secret":" ","audience":"aud"}"#,
            r#"{"client_id":"id","client_secret":"s3cr3t","audience":""}"#,
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(
                !error.contains("12345678") && !error.contains("s3cr3t"),
                "{error}"
            );
        }
    }
}
