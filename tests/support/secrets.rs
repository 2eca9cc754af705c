//! Secrets in a real Secrets Manager API: moto's server, reached through the SDK's standard
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` (the test command starts it and sets the variable).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;

use sandbox::ClientCredentials;
use tokio::sync::OnceCell;

static CLIENT: OnceCell<aws_sdk_secretsmanager::Client> = OnceCell::const_new();
static NEXT: AtomicU32 = AtomicU32::new(0);

pub async fn client() -> &'static aws_sdk_secretsmanager::Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_some(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER is not set: run the tests with scripts/test.sh, which starts moto"
    );
    CLIENT
        .get_or_init(|| async {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            aws_sdk_secretsmanager::Client::new(&config)
        })
        .await
}

pub fn secret_string(credentials: &ClientCredentials) -> String {
    serde_json::json!({
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "audience": credentials.audience,
    })
    .to_string()
}

/// Creates a secret of its own for one test and returns its ARN.
pub async fn create(credentials: &ClientCredentials) -> String {
    let name = format!(
        "omnilab/test-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand_suffix()
    );
    create_raw(&name, &secret_string(credentials)).await
}

pub async fn create_raw(name: &str, value: &str) -> String {
    let output = client()
        .await
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret");
    output.arn().expect("an ARN").to_owned()
}

/// Rotation, as an operator would do it: a new version of the same secret.
pub async fn put(secret_id: &str, credentials: &ClientCredentials) {
    client()
        .await
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(secret_string(credentials))
        .send()
        .await
        .expect("moto stores the new version");
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// A stand-in Secrets Manager on loopback, for what moto cannot do: answer late, or answer what
/// the SDK cannot parse. Every `POST` gets `body` as its `GetSecretValue` answer, the first one
/// after `first_delay`. Returns its URL and how many calls it took.
pub async fn fake_secrets_manager(
    body: String,
    first_delay: Duration,
) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Router::new().fallback(move |method: Method| {
        let (counter, body) = (counter.clone(), body.clone());
        async move {
            if method != Method::POST {
                return StatusCode::METHOD_NOT_ALLOWED.into_response();
            }
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(first_delay).await;
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
                body,
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), calls)
}
