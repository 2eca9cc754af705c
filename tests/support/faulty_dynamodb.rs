//! A front of our own between the binaries and DynamoDB Local, for the table's bad days: it
//! forwards every call as it came, and counts it, except those a test chose to throttle or
//! slow down. Point a binary at it with `AWS_ENDPOINT_URL_DYNAMODB` = [`FaultyDynamoDb::endpoint`].
//! (DynamoDB Local does not check request signatures, so forwarding to another port is fine.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// What goes wrong with a chosen operation.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// A 400 with this throttling error code, as DynamoDB answers a table over its capacity:
    /// `ProvisionedThroughputExceededException` or `ThrottlingException`.
    Throttle(&'static str),
    /// A 400 with this error code, as DynamoDB refuses a call it will never accept:
    /// `AccessDeniedException` (the role may read but not write, say).
    Refuse(&'static str),
    /// Forwarded, but only after this long.
    Delay(Duration),
}

struct Rule {
    operation: &'static str,
    fault: Fault,
    until: Instant,
}

struct State {
    upstream: String,
    client: reqwest::Client,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<HashMap<String, u32>>,
}

pub struct FaultyDynamoDb {
    pub endpoint: String,
    state: Arc<State>,
}

impl FaultyDynamoDb {
    /// A front for the DynamoDB that `AWS_ENDPOINT_URL_DYNAMODB` names, on a loopback port.
    pub async fn start() -> Self {
        let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .expect("AWS_ENDPOINT_URL_DYNAMODB names DynamoDB Local (scripts/test.sh sets it)");
        let state = Arc::new(State {
            upstream,
            client: reqwest::Client::new(),
            rules: Mutex::default(),
            calls: Mutex::default(),
        });
        let app = axum::Router::new().fallback({
            let state = state.clone();
            move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { handle(&state, headers, body).await }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { endpoint, state }
    }

    /// From now on, for `lasting`, every `operation` (`GetItem`, `PutItem`, `UpdateItem`...)
    /// meets `fault`.
    pub fn fail(&self, operation: &'static str, fault: Fault, lasting: Duration) {
        lock(&self.state.rules).push(Rule {
            operation,
            fault,
            until: Instant::now() + lasting,
        });
    }

    /// Calls of `operation` that reached the front, faulted ones included.
    pub fn calls(&self, operation: &str) -> u32 {
        lock(&self.state.calls).get(operation).copied().unwrap_or(0)
    }

    /// Every call that reached the front.
    pub fn total_calls(&self) -> u32 {
        lock(&self.state.calls).values().sum()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(state: &State, headers: HeaderMap, body: Bytes) -> Response {
    // `X-Amz-Target: DynamoDB_20120810.GetItem`
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("unknown")
        .to_owned();
    *lock(&state.calls).entry(operation.clone()).or_default() += 1;
    let fault = {
        let now = Instant::now();
        lock(&state.rules)
            .iter()
            .find(|rule| rule.operation == operation && now < rule.until)
            .map(|rule| rule.fault)
    };
    match fault {
        Some(fault @ (Fault::Throttle(code) | Fault::Refuse(code))) => {
            let message = match fault {
                Fault::Throttle(_) => "Rate of requests exceeds the allowed throughput.",
                _ => "The request was refused.",
            };
            let body = serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
                "message": message,
            });
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.0")],
                body.to_string(),
            )
                .into_response();
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let mut request = state.client.post(&state.upstream).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-amz-json-1.0")
                .to_owned();
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", content_type)], body).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
