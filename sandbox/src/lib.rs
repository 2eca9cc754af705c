//! A stand-in for OmniLab's Booking API, served over real HTTP, that behaves as the reference
//! page says: client-credentials tokens that expire, paging with `total_count`, the filters,
//! omitted durations, the language-map edge case, the same activity id in two campaigns, and
//! a cancel that (like OmniLab's) checks nothing about who asks.
//!
//! Used by the end-to-end tests, the fuzz target, the benchmark and the local dev server; never
//! by the Lambda binaries. Faults can be queued to test the unhappy paths: error statuses, rate
//! limiting, slow answers, dropped connections, malformed JSON.
//!
//! It speaks OmniLab's wire format with types of its own ([`wire`]) and does not depend on the
//! product crate at all, so it checks the product's model rather than echoing it.
//!
//! [`gateway`] is the other side's stand-in: the API Gateway event our functions receive.

mod data;
pub mod gateway;
pub mod tls;
pub mod wire;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

pub use data::{
    CRAFT_ACTIVITY_ID, Campaign, DEMO_CUSTOMER, Localized, OTHER_CUSTOMER, SHARED_ACTIVITY_ID,
    SandboxData, StoredBooking, booking_uuid,
};
pub use wire::{BookingStatus, ClientCredentials, Host, TicketType};

use wire::{
    Activity, Booking, BookingPage, CancelAnswer, CancelRequest, Group, Interaction, TokenAnswer,
    TokenRequest,
};

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

/// Requests that reached each endpoint (those answered by an injected fault are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub token_exchanges: u64,
    pub fetches: u64,
    pub cancels: u64,
    /// Every request to the token endpoint, those answered by an injected fault included: what
    /// an outage costs OmniLab.
    pub token_requests: u64,
}

/// A fetch as the sandbox received it, to check what we forwarded.
#[derive(Clone, Debug)]
pub struct Received {
    pub query: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct Sandbox {
    state: Arc<SandboxState>,
}

/// A change to the sandbox's data, made while a client pages through it.
type DataChange = Box<dyn FnOnce(&mut SandboxData) + Send>;

/// Decides, from the contact and the how-manieth fetch for that contact this is (from 1), whether
/// a fetch fails and how: lets a load test give every request a known fate.
type FaultPlan = dyn Fn(&str, u32) -> Option<Fault> + Send + Sync;

struct SandboxState {
    data: Mutex<SandboxData>,
    plan: Mutex<Option<Arc<FaultPlan>>>,
    attempts: Mutex<HashMap<String, u32>>,
    credentials: Mutex<ClientCredentials>,
    token_lifetime: AtomicU64,
    /// What the token answer says in `expires_in`, when a test wants something odd there.
    expires_in: Mutex<Option<Value>>,
    /// The most bookings a page holds, whatever `page_size` asks (0: no limit).
    max_page_size: AtomicU64,
    tokens: Mutex<HashMap<String, Instant>>,
    faults: Mutex<VecDeque<(Endpoint, Fault)>>,
    latency_ms: AtomicU64,
    issued: AtomicU64,
    token_exchanges: AtomicU64,
    token_requests: AtomicU64,
    fetches: AtomicU64,
    cancels: AtomicU64,
    cancelled: Mutex<HashMap<String, u64>>,
    /// Bookings whose cancel OmniLab refuses, and the status it answers.
    uncancellable: Mutex<HashMap<String, u16>>,
    /// Pages in order of the latest status change, newest first, instead of slot order.
    latest_change_first: AtomicBool,
    /// Changes to make to the data once a page with that number has been served.
    after_page: Mutex<Vec<(u32, DataChange)>>,
    received: Mutex<Vec<Received>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the sandbox for the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sandbox {
    /// The credentials the sandbox accepts by default.
    pub fn default_credentials() -> ClientCredentials {
        ClientCredentials {
            client_id: "sandbox-client".into(),
            client_secret: "sandbox-secret".into(),
            audience: "https://sandbox.omnilab.test".into(),
        }
    }

    pub fn new(data: SandboxData) -> Self {
        Self {
            state: Arc::new(SandboxState {
                data: Mutex::new(data),
                plan: Mutex::new(None),
                attempts: Mutex::new(HashMap::new()),
                credentials: Mutex::new(Self::default_credentials()),
                token_lifetime: AtomicU64::new(3600),
                expires_in: Mutex::new(None),
                max_page_size: AtomicU64::new(0),
                tokens: Mutex::new(HashMap::new()),
                faults: Mutex::new(VecDeque::new()),
                latency_ms: AtomicU64::new(0),
                issued: AtomicU64::new(0),
                token_exchanges: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
                fetches: AtomicU64::new(0),
                cancels: AtomicU64::new(0),
                cancelled: Mutex::new(HashMap::new()),
                uncancellable: Mutex::new(HashMap::new()),
                latest_change_first: AtomicBool::new(false),
                after_page: Mutex::new(Vec::new()),
                received: Mutex::new(Vec::new()),
            }),
        }
    }

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

    /// From now on only `credentials` get a token, as after a rotation on OmniLab's side.
    pub fn set_credentials(&self, credentials: ClientCredentials) {
        *lock(&self.state.credentials) = credentials;
    }

    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state.token_lifetime.store(seconds, Ordering::Relaxed);
    }

    /// Tokens still live `set_token_lifetime` seconds, but the answer says `expires_in` as given.
    pub fn set_expires_in(&self, expires_in: Value) {
        *lock(&self.state.expires_in) = Some(expires_in);
    }

    /// Serve at most `size` bookings a page, whatever `page_size` asks: the reference documents
    /// no maximum, so a tenant's OmniLab may have one.
    pub fn set_max_page_size(&self, size: u32) {
        self.state
            .max_page_size
            .store(u64::from(size), Ordering::Relaxed);
    }

    /// Every token issued so far stops working, as after a key rotation on OmniLab's side.
    pub fn revoke_tokens(&self) {
        lock(&self.state.tokens).clear();
    }

    /// The tokens issued since the last revocation: for a test to look for them where they
    /// must never appear (a command's output, a log line).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state.tokens).keys().cloned().collect()
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        lock(&self.state.faults).push_back((endpoint, fault));
    }

    /// Fetch faults decided per contact and attempt, on top of the queued ones.
    pub fn set_fault_plan(
        &self,
        plan: impl Fn(&str, u32) -> Option<Fault> + Send + Sync + 'static,
    ) {
        *lock(&self.state.plan) = Some(Arc::new(plan));
    }

    fn planned_fault(&self, endpoint: Endpoint, query: Option<&str>) -> Option<Fault> {
        if endpoint != Endpoint::Fetch {
            return None;
        }
        let plan = lock(&self.state.plan).clone()?;
        let contact = form_pairs(query.unwrap_or_default())
            .into_iter()
            .find(|(k, _)| k == "external_id")
            .map(|(_, v)| v)?;
        let attempt = {
            let mut attempts = lock(&self.state.attempts);
            let n = attempts.entry(contact.clone()).or_default();
            *n += 1;
            *n
        };
        plan(&contact, attempt)
    }

    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    pub fn counters(&self) -> Counters {
        Counters {
            token_exchanges: self.state.token_exchanges.load(Ordering::Relaxed),
            fetches: self.state.fetches.load(Ordering::Relaxed),
            cancels: self.state.cancels.load(Ordering::Relaxed),
            token_requests: self.state.token_requests.load(Ordering::Relaxed),
        }
    }

    /// How often OmniLab's cancel was called for this booking.
    pub fn cancel_calls(&self, booking: &str) -> u64 {
        lock(&self.state.cancelled)
            .get(booking)
            .copied()
            .unwrap_or(0)
    }

    /// From now on a cancel of `booking` is refused with `status` and an error naming the
    /// booking. The reference page documents no refusal; OmniLab's answer to a booking that
    /// can no longer be cancelled (a past slot, a closed campaign) is a guess the product must
    /// survive: 409 and 422 as an API says "not in this state", or a 400 about the booking.
    pub fn refuse_cancel(&self, booking: &str, status: u16) {
        lock(&self.state.uncancellable).insert(booking.to_owned(), status);
    }

    /// Serves pages in order of each booking's latest status change, newest first. The
    /// reference page documents no order; a review saw OmniLab's move this way, so a booking
    /// cancelled or added while a client pages moves between pages. By default the sandbox
    /// serves slot order, which keeps pages stable for every other test.
    pub fn order_by_latest_change(&self) {
        self.state
            .latest_change_first
            .store(true, Ordering::Relaxed);
    }

    /// The next time a page numbered `page_number` is served, `change` is made to the data
    /// right after, as another device of the customer (or OmniLab) would while a client pages.
    /// Changes asked for the same page number are made on successive serves.
    pub fn after_page_served(
        &self,
        page_number: u32,
        change: impl FnOnce(&mut SandboxData) + Send + 'static,
    ) {
        lock(&self.state.after_page).push((page_number, Box::new(change)));
    }

    pub fn status_of(&self, booking: &str) -> Option<BookingStatus> {
        lock(&self.state.data)
            .bookings
            .iter()
            .find(|b| b.booking == booking)
            .map(|b| b.booking_status)
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    pub fn data(&self) -> SandboxData {
        lock(&self.state.data).clone()
    }

    fn next_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut faults = lock(&self.state.faults);
        let at = faults
            .iter()
            .position(|(e, _)| *e == endpoint || *e == Endpoint::Any)?;
        faults.remove(at).map(|(_, fault)| fault)
    }

    fn token_is_valid(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        lock(&self.state.tokens)
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
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
    let endpoint = match (method.clone(), uri.path()) {
        (Method::POST, "/v1/oauth:token") => Endpoint::Token,
        (Method::GET, "/v1/interactions:fetchContactBookings") => Endpoint::Fetch,
        (Method::POST, "/v1/interactions:cancelInteractionBooking") => Endpoint::Cancel,
        _ => return error(StatusCode::NOT_FOUND, "not_found"),
    };
    if endpoint == Endpoint::Token {
        sandbox.state.token_requests.fetch_add(1, Ordering::Relaxed);
    }
    let latency = sandbox.state.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let fault = sandbox
        .next_fault(endpoint)
        .or_else(|| sandbox.planned_fault(endpoint, query.as_deref()));
    match fault {
        None => {}
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Status(code)) => {
            return error(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "injected",
            );
        }
        Some(Fault::RateLimited { retry_after }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.into());
            }
            return response;
        }
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"bookings\": [{\"activ",
            )
                .into_response();
        }
        Some(fault @ (Fault::Reset | Fault::GoAway)) if link.is_some() => {
            let how = if fault == Fault::Reset {
                tls::Cut::Reset
            } else {
                tls::Cut::GoAway
            };
            if let Some(Extension(link)) = link {
                return cut_midway(link, how);
            }
        }
        Some(Fault::Drop | Fault::Reset | Fault::GoAway) => {
            // The status line and a first chunk go out, then the connection is cut.
            let broken = futures_util::stream::iter([
                Ok(Bytes::from_static(b"{\"bookings\": [")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped",
                )),
            ]);
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(broken),
            )
                .into_response();
        }
        Some(Fault::Unauthorized) => return error(StatusCode::UNAUTHORIZED, "invalid_token"),
    }
    match endpoint {
        Endpoint::Token => token(&sandbox, &body),
        Endpoint::Fetch => {
            sandbox.state.fetches.fetch_add(1, Ordering::Relaxed);
            if !sandbox.token_is_valid(&headers) {
                return error(StatusCode::UNAUTHORIZED, "invalid_token");
            }
            let pairs: Vec<(String, String)> = form_pairs(query.as_deref().unwrap_or_default());
            lock(&sandbox.state.received).push(Received {
                query: pairs.clone(),
            });
            fetch(&sandbox, &pairs)
        }
        Endpoint::Cancel | Endpoint::Any => {
            sandbox.state.cancels.fetch_add(1, Ordering::Relaxed);
            if !sandbox.token_is_valid(&headers) {
                return error(StatusCode::UNAUTHORIZED, "invalid_token");
            }
            cancel(&sandbox, &body)
        }
    }
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

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "message": "sandbox" })),
    )
        .into_response()
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

fn token(sandbox: &Sandbox, body: &[u8]) -> Response {
    sandbox
        .state
        .token_exchanges
        .fetch_add(1, Ordering::Relaxed);
    let Ok(request) = serde_json::from_slice::<TokenRequest>(body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let expected = lock(&sandbox.state.credentials).clone();
    if request.grant_type != "client_credentials" {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if request.client_id != expected.client_id
        || request.client_secret != expected.client_secret
        || request.audience != expected.audience
    {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let n = sandbox.state.issued.fetch_add(1, Ordering::Relaxed) + 1;
    let token = format!("sandbox-token-{n}-{:016x}", fastrand::u64(..));
    let lifetime = sandbox.state.token_lifetime.load(Ordering::Relaxed);
    lock(&sandbox.state.tokens).insert(
        token.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    );
    let expires_in = lock(&sandbox.state.expires_in)
        .clone()
        .unwrap_or_else(|| lifetime.into());
    axum::Json(TokenAnswer {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in,
    })
    .into_response()
}

/// A fetch query, checked the way OmniLab checks it.
struct FetchQuery {
    contact: String,
    public_key: Option<String>,
    interaction: Option<String>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    statuses: Vec<BookingStatus>,
    page_size: u32,
    page_number: u32,
    language: Option<String>,
}

impl FetchQuery {
    /// On failure, the error code OmniLab would answer 400 with.
    fn parse(pairs: &[(String, String)]) -> Result<Self, &'static str> {
        let values = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let one = |name: &str| -> Result<Option<String>, &'static str> {
            match values(name).as_slice() {
                [] => Ok(None),
                [value] => Ok(Some((*value).to_owned())),
                _ => Err("only_one_value_supported"),
            }
        };
        let time = |name: &str| -> Result<Option<Timestamp>, &'static str> {
            one(name)?
                .map(|t| t.parse::<Timestamp>().map_err(|_| "invalid_date"))
                .transpose()
        };
        let number = |name: &str, default: u32| -> Result<u32, &'static str> {
            one(name)?
                .map(|n| {
                    n.parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or("invalid_page")
                })
                .transpose()
                .map(|n| n.unwrap_or(default))
        };
        let public_key = one("public_keys")?;
        let interaction = one("interactions")?;
        if public_key.is_some() && interaction.is_some() {
            return Err("public_keys_and_interactions_exclusive");
        }
        let statuses = values("booking_status")
            .into_iter()
            .map(|s| BookingStatus::parse(s).ok_or("invalid_status"))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            contact: one("external_id")?.ok_or("external_id_required")?,
            public_key,
            interaction,
            from: time("slot_date_range.from")?,
            to: time("slot_date_range.to")?,
            statuses,
            page_size: number("page_size", 50)?,
            page_number: number("page_number", 1)?,
            language: one("language")?
                .map(|l| l.split('-').next().unwrap_or_default().to_ascii_lowercase()),
        })
    }
}

fn fetch(sandbox: &Sandbox, pairs: &[(String, String)]) -> Response {
    let FetchQuery {
        contact,
        public_key,
        interaction,
        from,
        to,
        statuses,
        page_size,
        page_number,
        language,
    } = match FetchQuery::parse(pairs) {
        Ok(query) => query,
        Err(code) => return error(StatusCode::BAD_REQUEST, code),
    };
    let page_size = match sandbox.state.max_page_size.load(Ordering::Relaxed) {
        0 => page_size,
        max => page_size.min(max as u32),
    };
    let data = lock(&sandbox.state.data);
    let mut matching: Vec<&StoredBooking> = data
        .bookings
        .iter()
        .filter(|b| b.contact == contact)
        .filter(|b| {
            public_key
                .as_ref()
                .is_none_or(|k| data.campaigns[b.campaign].public_key == *k)
        })
        .filter(|b| {
            interaction
                .as_ref()
                .is_none_or(|n| data.campaigns[b.campaign].name == *n)
        })
        .filter(|b| from.is_none_or(|from| b.slot_starting_at >= from))
        .filter(|b| to.is_none_or(|to| b.slot_starting_at <= to))
        .filter(|b| statuses.is_empty() || statuses.contains(&b.booking_status))
        .collect();
    if sandbox.state.latest_change_first.load(Ordering::Relaxed) {
        matching.sort_by(|a, b| (b.booked_at, &a.booking).cmp(&(a.booked_at, &b.booking)));
    } else {
        matching.sort_by_key(|b| (b.slot_starting_at, b.booking.clone()));
    }
    let total_count = matching.len() as u64;
    let skip = (page_number as usize - 1).saturating_mul(page_size as usize);
    let bookings: Vec<Booking> = matching
        .into_iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|b| render(&data.campaigns[b.campaign], b, language.as_deref()))
        .collect();
    drop(data);
    // One change per page served, in the order they were asked for.
    let change = {
        let mut pending = lock(&sandbox.state.after_page);
        let due = pending.iter().position(|(page, _)| *page == page_number);
        due.map(|at| pending.remove(at).1)
    };
    if let Some(change) = change {
        change(&mut lock(&sandbox.state.data));
    }
    axum::Json(BookingPage {
        bookings,
        page_number,
        page_size,
        total_count,
    })
    .into_response()
}

/// A stored booking as OmniLab renders it in `language`.
fn render(campaign: &Campaign, stored: &StoredBooking, language: Option<&str>) -> Booking {
    Booking {
        activity: Activity {
            id: stored.activity_id.clone(),
            title: localize(campaign, &stored.title, language),
            location_hint: localize(campaign, &stored.location_hint, language),
        },
        interaction: Interaction {
            public_key: campaign.public_key.clone(),
            timezone: campaign.timezone.clone(),
        },
        group: Group {
            unique_key: campaign.group_key.clone(),
            display_name: campaign.group_name.clone(),
        },
        slot_starting_at: stored.slot_starting_at,
        slot_duration_in_minutes: stored.slot_duration_in_minutes,
        booking_status: stored.booking_status,
        booked_at: stored.booked_at,
        ticket_type: stored.ticket_type.clone(),
        host: stored.host.clone(),
        booking: stored.booking.clone(),
    }
}

/// The reference page's rule: the requested language if the campaign offers it, else the
/// campaign's default; and where that language has no text, the raw language map as a string.
fn localize(campaign: &Campaign, text: &Localized, language: Option<&str>) -> String {
    let resolved = language
        .filter(|l| campaign.languages.iter().any(|c| c == l))
        .or(campaign.languages.first().map(String::as_str))
        .unwrap_or("en");
    match text.0.iter().find(|(l, _)| l == resolved) {
        Some((_, value)) => value.clone(),
        None => {
            let map: serde_json::Map<String, Value> = text
                .0
                .iter()
                .map(|(l, t)| (l.clone(), Value::String(t.clone())))
                .collect();
            Value::Object(map).to_string()
        }
    }
}

fn cancel(sandbox: &Sandbox, body: &[u8]) -> Response {
    let Ok(CancelRequest { booking }) = serde_json::from_slice(body) else {
        return error(StatusCode::BAD_REQUEST, "booking_required");
    };
    *lock(&sandbox.state.cancelled)
        .entry(booking.clone())
        .or_default() += 1;
    if let Some(status) = lock(&sandbox.state.uncancellable).get(&booking).copied() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT);
        let body = json!({
            "error": "booking_not_cancellable",
            "message": format!("booking {booking} cannot be cancelled in its current state"),
        });
        return (status, axum::Json(body)).into_response();
    }
    let mut data = lock(&sandbox.state.data);
    // Like OmniLab's: any valid token may cancel any booking. Our functions must check ownership.
    let Some(stored) = data.bookings.iter_mut().find(|b| b.booking == booking) else {
        return error(StatusCode::NOT_FOUND, "booking_not_found");
    };
    stored.booking_status = BookingStatus::Cancelled;
    stored.booked_at = Timestamp::now();
    axum::Json(CancelAnswer {}).into_response()
}
