//! Every upstream call goes through here: one shared connection pool, a timeout inside the
//! request's deadline, retries with jittered backoff where repeating is safe, bounded bodies.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use super::error::{Malformed, TransportError};
use super::tally::{Endpoint, FailureKind};
use super::{Budget, UpstreamError, UpstreamPolicy};

/// OmniLab's pages are tens of kilobytes; anything near this is not a booking page.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and the token exchange: retry 5xx, 429 and transport failures.
    Safe,
    /// A cancel: repeat only when the request provably never left (connection refused).
    OnlyUnsent,
}

impl Retry {
    /// Whether another attempt may follow `failure`.
    fn allows(self, failure: &UpstreamError) -> bool {
        match failure {
            // Refused before anything was sent: repeating cannot cancel twice.
            UpstreamError::Transport(TransportError::Connect) => true,
            // A certificate refused now is refused a hundred milliseconds later.
            UpstreamError::Transport(TransportError::Tls(_)) => false,
            UpstreamError::Transport(_)
            | UpstreamError::Status(_)
            | UpstreamError::RateLimited { .. } => self == Self::Safe,
            // A slow upstream stays slow, and an unreadable body stays unreadable.
            UpstreamError::Timeout
            | UpstreamError::CancelRefused(_)
            | UpstreamError::Malformed(_)
            | UpstreamError::Unauthorized
            | UpstreamError::CredentialsRejected
            | UpstreamError::Credentials(_) => false,
        }
    }
}

pub(crate) struct Transport {
    // Built once, off the start-up path: loading the TLS roots takes milliseconds that need not
    // delay the runtime's first poll for work (see `App::prepare_in_background`).
    client: OnceLock<Result<reqwest::Client, String>>,
    policy: UpstreamPolicy,
    #[cfg(feature = "test-tls")]
    test_tls: super::TestTls,
}

impl Transport {
    pub(crate) fn new(policy: UpstreamPolicy) -> Self {
        Self {
            client: OnceLock::new(),
            policy,
            #[cfg(feature = "test-tls")]
            test_tls: super::TestTls::default(),
        }
    }

    #[cfg(feature = "test-tls")]
    pub(crate) fn with_test_tls(self, test_tls: super::TestTls) -> Self {
        Self { test_tls, ..self }
    }

    /// The container's one HTTP client (one connection pool).
    pub(crate) fn client(&self) -> Result<&reqwest::Client, UpstreamError> {
        self.client
            .get_or_init(|| {
                let client = self
                    .tls_config()
                    .map_err(|e| e.to_string())
                    .and_then(|tls| {
                        let builder = reqwest::Client::builder()
                            .tls_backend_preconfigured(tls)
                            .connect_timeout(Duration::from_secs(2))
                            // Below OmniLab's likely idle limit, so we rarely write into a closing connection.
                            .pool_idle_timeout(Duration::from_secs(50))
                            .user_agent(concat!("omnilab-bookings/", env!("CARGO_PKG_VERSION")));
                        #[cfg(feature = "test-tls")]
                        let builder = match &self.test_tls.resolve {
                            Some((host, addr)) => builder.resolve(host, *addr),
                            None => builder,
                        };
                        builder.build().map_err(|e| e.to_string())
                    });
                client.inspect_err(
                    |error| tracing::error!(%error, "the HTTP client could not be built"),
                )
            })
            .as_ref()
            .map_err(|_| UpstreamError::Transport(TransportError::Client))
    }

    pub(crate) fn policy(&self) -> &UpstreamPolicy {
        &self.policy
    }

    /// Sends the request `build` makes and reads its answer, retrying as `retry` allows.
    /// Returns the first answer that is neither a 5xx nor a 429; final 5xx and 429 answers
    /// become errors. The body is read inside the attempt, so a connection that drops mid-body
    /// is retried like one that drops before the headers.
    pub(crate) async fn send(
        &self,
        budget: &Budget,
        endpoint: Endpoint,
        retry: Retry,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, UpstreamError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = budget.remaining();
            if remaining.is_zero() {
                return Err(UpstreamError::Timeout);
            }
            budget.count();
            let started = Instant::now();
            let outcome = self.attempt(build(), remaining, endpoint).await;
            let kind = match &outcome {
                Ok(answer) if endpoint.answers(answer.status) => None,
                Ok(answer) => FailureKind::of_status(answer.status),
                Err(error) => Some(FailureKind::of_error(error)),
            };
            budget
                .record()
                .attempt(endpoint, started.elapsed(), kind, attempt > 1);
            let failure = match outcome {
                Ok(answer) if answer.status == StatusCode::TOO_MANY_REQUESTS => {
                    UpstreamError::RateLimited {
                        retry_after: answer.retry_after,
                    }
                }
                Ok(answer) if answer.status.is_server_error() => {
                    UpstreamError::Status(answer.status.as_u16())
                }
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            if !retry.allows(&failure) || attempt >= self.policy.max_attempts {
                return Err(failure);
            }
            let wait = match failure {
                UpstreamError::RateLimited {
                    retry_after: Some(asked),
                } => asked,
                _ => self.backoff(attempt),
            };
            // Leave room for the retry itself; a wait that cannot fit is a wait for nothing.
            if wait + Duration::from_millis(50) >= budget.remaining() {
                return Err(failure);
            }
            tracing::warn!(attempt, error = %failure, wait_ms = wait.as_millis() as u64, "retrying OmniLab call");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        request: RequestBuilder,
        remaining: Duration,
        endpoint: Endpoint,
    ) -> Result<Answer, UpstreamError> {
        let response = request
            .timeout(remaining.min(self.policy.attempt_timeout))
            .send()
            .await
            .map_err(|e| UpstreamError::from_reqwest(&e))?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let body = read_body(response).await?;
        Ok(Answer {
            endpoint,
            status,
            retry_after,
            body,
        })
    }

    /// Full jitter over an exponential step: spreads the retries of many containers apart.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .policy
            .base_backoff
            .saturating_mul(1 << attempt.min(10));
        ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
    }

    /// rustls with aws-lc (as reqwest's default) trusting the Mozilla root program, compiled
    /// in: no CA bundle to read and parse at start-up. OmniLab's hosts are public, so those roots
    /// are the ones that matter; a new root needs a rebuild. ALPN offers HTTP/2 first: one
    /// connection then carries `all=true`'s concurrent pages.
    ///
    /// The roots come as whole certificates (webpki-root-certs), the form the AWS SDK's trust
    /// store needs too (`aws.rs`): one copy in the binary rather than that and webpki-roots'
    /// trust anchors as well. Taking the anchors out of them is a parse of each, a fraction of
    /// a millisecond once per container.
    fn tls_config(&self) -> Result<rustls::ClientConfig, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        #[cfg(feature = "test-tls")]
        if let Some(root) = &self.test_tls.root_certificate {
            roots.add(rustls::pki_types::CertificateDer::from(root.clone()))?;
        }
        client_config(roots)
    }
}

fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by rate limiters in practice).
fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// An upstream answer, read in full.
pub(crate) struct Answer {
    endpoint: Endpoint,
    pub(crate) status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

impl Answer {
    /// Whether the body holds `text`, ignoring ASCII case. Only a yes or no leaves here: the
    /// body itself is never logged or passed on.
    pub(crate) fn mentions(&self, text: &str) -> bool {
        let needle = text.as_bytes();
        !needle.is_empty()
            && self
                .body
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle))
    }

    /// The body as `T`; one that does not parse counts as a malformed answer in `budget`'s tally.
    pub(crate) fn json<'a, T: Deserialize<'a>>(
        &'a self,
        budget: &Budget,
    ) -> Result<T, UpstreamError> {
        // Checked as UTF-8 once, in one pass, rather than string by string as `from_slice`
        // does. A body that is not UTF-8 goes to `from_slice` for the same error it would give.
        let parsed = match std::str::from_utf8(&self.body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(&self.body),
        };
        parsed.map_err(|e| {
            budget.record().malformed(self.endpoint);
            UpstreamError::from_json(&e)
        })
    }
}

/// Reads a body, at most [`MAX_BODY_BYTES`] of it.
///
/// A body that arrives as one chunk (a page, read from the socket in one go) is kept as that
/// chunk, a view of hyper's read buffer, rather than copied into a buffer of its own.
async fn read_body(mut response: Response) -> Result<Bytes, UpstreamError> {
    let within = |len: usize| {
        (len <= MAX_BODY_BYTES)
            .then_some(())
            .ok_or(UpstreamError::Malformed(Malformed::TooLarge))
    };
    let announced = response.content_length().unwrap_or(0);
    within(usize::try_from(announced).unwrap_or(usize::MAX))?;
    let Some(first) = next_chunk(&mut response).await? else {
        return Ok(Bytes::new());
    };
    within(first.len())?;
    let Some(second) = next_chunk(&mut response).await? else {
        return Ok(first);
    };
    // Sized once when the length is announced (under the limit, checked above).
    let mut body = BytesMut::with_capacity((announced as usize).max(first.len() + second.len()));
    body.extend_from_slice(&first);
    let mut chunk = Some(second);
    while let Some(more) = chunk {
        within(body.len() + more.len())?;
        body.extend_from_slice(&more);
        chunk = next_chunk(&mut response).await?;
    }
    Ok(body.freeze())
}

async fn next_chunk(response: &mut Response) -> Result<Option<Bytes>, UpstreamError> {
    response
        .chunk()
        .await
        .map_err(|e| UpstreamError::from_reqwest(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response whose body arrives in `chunks`, as hyper hands them over.
    fn response_in(chunks: Vec<Bytes>) -> Response {
        let frames = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|chunk| Ok::<_, std::convert::Infallible>(http_body::Frame::data(chunk))),
        );
        Response::from(lambda_http::http::Response::new(reqwest::Body::wrap(
            http_body_util::StreamBody::new(frames),
        )))
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_is_kept_as_that_chunk() {
        let page = Bytes::from(vec![b'x'; 26_000]);
        let body = read_body(response_in(vec![page.clone()])).await.unwrap();
        assert_eq!(body, page);
        assert_eq!(body.as_ptr(), page.as_ptr(), "copied");
        assert!(read_body(response_in(vec![])).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_body_in_several_chunks_is_joined() {
        let chunks = ["{\"bookings\":", "[]", ",\"total_count\":0}"]
            .map(|s| Bytes::from_static(s.as_bytes()));
        let body = read_body(response_in(chunks.to_vec())).await.unwrap();
        assert_eq!(
            body,
            Bytes::from_static(b"{\"bookings\":[],\"total_count\":0}")
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_whole_or_in_chunks() {
        let half = Bytes::from(vec![b' '; MAX_BODY_BYTES / 2 + 1]);
        for chunks in [
            vec![Bytes::from(vec![b' '; MAX_BODY_BYTES + 1])],
            vec![half.clone(), half],
        ] {
            assert!(matches!(
                read_body(response_in(chunks)).await,
                Err(UpstreamError::Malformed(Malformed::TooLarge))
            ));
        }
        let exactly = Bytes::from(vec![b' '; MAX_BODY_BYTES]);
        assert_eq!(
            read_body(response_in(vec![exactly])).await.unwrap().len(),
            MAX_BODY_BYTES
        );
    }

    #[test]
    fn the_client_builds_with_the_compiled_in_roots() {
        let transport = Transport::new(UpstreamPolicy::default());
        let config = transport.tls_config().unwrap();
        assert!(config.alpn_protocols.contains(&b"http/1.1".to_vec()));
        assert!(Transport::new(UpstreamPolicy::default()).client().is_ok());
    }
}
