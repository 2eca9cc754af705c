//! Serving over plain HTTP, and the way of every request: its endpoint from the method and path,
//! the latency, the fault it meets, then the endpoint's handler.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::faults::{self, Endpoint};
use crate::state::Sandbox;
use crate::{cancel, fetch, tls, token};

impl Sandbox {
    /// Serves on `addr` (port 0 for any free port) in a background task; returns the address.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        self.serve_with(addr, |router, _| router).await
    }

    /// The sandbox's routes, for a server that puts its own layers in front of them.
    pub fn router(&self) -> Router {
        Router::new().fallback(dispatch).with_state(self.clone())
    }

    /// Serves on `addr` like [`serve`](Self::serve), with `wrap` around the routes; it is given
    /// the port really bound (port 0 picks one).
    pub async fn serve_with(
        &self,
        addr: SocketAddr,
        wrap: impl FnOnce(Router, u16) -> Router,
    ) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let router = wrap(self.router(), local.port());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "sandbox stopped");
            }
        });
        Ok(local)
    }
}

async fn dispatch(
    State(sandbox): State<Sandbox>,
    link: Option<Extension<tls::Link>>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint = match (method, uri.path()) {
        (Method::POST, "/v1/oauth:token") => Endpoint::Token,
        (Method::GET, "/v1/interactions:fetchContactBookings") => Endpoint::Fetch,
        (Method::POST, "/v1/interactions:cancelInteractionBooking") => Endpoint::Cancel,
        _ => return error(StatusCode::NOT_FOUND, "not_found"),
    };
    let pairs = form_pairs(query.as_deref().unwrap_or_default());
    // The lock is let go before the sleep: the latency holds up this request only.
    let latency = {
        let mut state = sandbox.lock();
        if endpoint == Endpoint::Token {
            state.counters.token_requests += 1;
        }
        state.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let contact = pairs
        .iter()
        .find(|(name, _)| name == "external_id")
        .map(|(_, value)| value.as_str());
    if let Some(fault) = sandbox.fault_for(endpoint, contact) {
        let link = link.map(|Extension(link)| link);
        if let Some(answer) = faults::answer(fault, link).await {
            return answer;
        }
    }
    match endpoint {
        Endpoint::Token => token::exchange(&sandbox, &body),
        Endpoint::Fetch => fetch::fetch(&sandbox, &headers, &pairs),
        Endpoint::Cancel | Endpoint::Any => cancel::cancel(&sandbox, &headers, &body),
    }
}

/// OmniLab's error answer: `status`, and a body naming the error by `code`.
pub(crate) fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "message": "sandbox" })),
    )
        .into_response()
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}
