//! The fault API: what to break ([`Fault`]), on which endpoint ([`Endpoint`]), queued one by one
//! or decided per contact and attempt by a fault plan; and the answer each fault makes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::router::error;
use crate::state::Sandbox;
use crate::tls;

/// The endpoint a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Fetch,
    Cancel,
    Any,
}

/// Something to go wrong with the next matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    Status(u16),
    /// 429, with `Retry-After` in seconds when given.
    RateLimited {
        retry_after: Option<u64>,
    },
    /// Answer normally, but only after this long.
    Slow(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// Send the headers, then cut the connection.
    Drop,
    /// Send the headers and a first chunk, then close the whole connection with a TCP reset:
    /// every request in flight on it fails. Over plain HTTP, the same as [`Fault::Drop`].
    Reset,
    /// HTTP/2 over TLS: send the headers and a first chunk, then GOAWAY, then close the
    /// connection under the streams still open. Otherwise the same as [`Fault::Drop`].
    GoAway,
    /// 401, as for an expired or revoked token.
    Unauthorized,
}

/// Decides, from the contact and the how-manieth fetch for that contact this is (from 1), whether
/// a fetch fails and how: lets a load test give every request a known fate.
type FaultPlan = dyn Fn(&str, u32) -> Option<Fault> + Send + Sync;

/// The faults still to happen.
#[derive(Default)]
pub(crate) struct FaultState {
    queued: VecDeque<(Endpoint, Fault)>,
    plan: Option<Arc<FaultPlan>>,
    /// Fetches each contact has made that the plan was asked about.
    attempts: HashMap<String, u32>,
}

impl FaultState {
    /// The first queued fault for `endpoint`, taken off the queue.
    fn next(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let at = self
            .queued
            .iter()
            .position(|(e, _)| *e == endpoint || *e == Endpoint::Any)?;
        self.queued.remove(at).map(|(_, fault)| fault)
    }
}

impl Sandbox {
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.lock().faults.queued.push_back((endpoint, fault));
    }

    /// Fetch faults decided per contact and attempt, on top of the queued ones.
    pub fn set_fault_plan(
        &self,
        plan: impl Fn(&str, u32) -> Option<Fault> + Send + Sync + 'static,
    ) {
        self.lock().faults.plan = Some(Arc::new(plan));
    }

    pub fn clear_faults(&self) {
        self.lock().faults.queued.clear();
    }

    /// The fault this request meets: the first queued for its endpoint, else (for a fetch by
    /// `contact`) what the plan decides for that contact's next attempt.
    pub(crate) fn fault_for(&self, endpoint: Endpoint, contact: Option<&str>) -> Option<Fault> {
        let (plan, contact, attempt) = {
            let mut state = self.lock();
            if let Some(fault) = state.faults.next(endpoint) {
                return Some(fault);
            }
            let contact = contact.filter(|_| endpoint == Endpoint::Fetch)?;
            let plan = state.faults.plan.clone()?;
            let attempt = state.faults.attempts.entry(contact.to_owned()).or_default();
            *attempt += 1;
            (plan, contact, *attempt)
        };
        // The plan is the caller's code: it runs unlocked, so that it may take its time or ask
        // the sandbox something without stalling every other request.
        plan(contact, attempt)
    }
}

/// What `fault` makes of the answer: the whole answer, or `None` for one that goes on to the
/// endpoint (after the delay of a [`Fault::Slow`]). `link` is the connection, over TLS.
pub(crate) async fn answer(fault: Fault, link: Option<tls::Link>) -> Option<Response> {
    let response = match fault {
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            return None;
        }
        Fault::Status(code) => error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected",
        ),
        Fault::RateLimited { retry_after } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
        Fault::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"bookings\": [{\"activ",
        )
            .into_response(),
        Fault::Reset | Fault::GoAway => match link {
            Some(link) => {
                let how = if fault == Fault::Reset {
                    tls::Cut::Reset
                } else {
                    tls::Cut::GoAway
                };
                cut_midway(link, how)
            }
            None => dropped(),
        },
        Fault::Drop => dropped(),
        Fault::Unauthorized => error(StatusCode::UNAUTHORIZED, "invalid_token"),
    };
    Some(response)
}

/// The status line and a first chunk go out, then the answer's stream fails: the server drops
/// the connection.
fn dropped() -> Response {
    let broken = futures_util::stream::iter([
        Ok(Bytes::from_static(b"{\"bookings\": [")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "dropped",
        )),
    ]);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(broken),
    )
        .into_response()
}

/// An answer that starts, then has its connection cut under it as `how` says.
fn cut_midway(link: tls::Link, how: tls::Cut) -> Response {
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(b"{\"bookings\": ["))
    });
    let cut = futures_util::stream::once(async move {
        link.cut(how);
        std::future::pending::<Result<Bytes, std::io::Error>>().await
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(futures_util::StreamExt::chain(first, cut)),
    )
        .into_response()
}
