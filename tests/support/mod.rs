//! What the end-to-end tests share: the sandbox OmniLab on loopback (the `omnilab-sandbox`
//! crate, which also builds the API Gateway events: `sandbox::gateway`), secrets in the Secrets
//! Manager emulator, a Lambda Runtime API to run the compiled binaries under, and the checks of
//! what they write that any area may hold them to: EMF documents against the specification
//! (`emf`), and the metrics `template.yaml` names (`template_metrics`). Beside them, the
//! processes the browser and sign-in tests start (`process`, `dev_server`, `browser`, the real
//! OpenID provider `oidc_provider`) and an
//! identity provider of the tests' own (`issuer`).

pub mod browser;
pub mod captured;
pub mod dev_server;
pub mod dynamodb;
pub mod emf;
pub mod faulty_dynamodb;
pub mod issuer;
pub mod oidc_provider;
pub mod process;
pub mod runtime_api;
pub mod secrets;
pub mod template_metrics;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bookings::config::UpstreamPolicy;
use bookings::{App, Config, Route};
use jiff::Timestamp;
use lambda_http::lambda_runtime::Context;
use lambda_http::{Body, Request, Response};
use runtime_api::{Function, RuntimeApi};
use sandbox::gateway::Event;
use sandbox::{ClientCredentials, Sandbox, SandboxData};
use serde_json::Value;

pub use sandbox::{DEMO_CUSTOMER, OTHER_CUSTOMER};

/// The day the demo data starts: fixed, so local times and groups are known in advance.
pub fn demo_start() -> Timestamp {
    "2024-12-09T00:00:00Z".parse().expect("a valid timestamp")
}

/// One world for one test: a sandbox OmniLab with the demo data, a secret of its own in the
/// emulator, and the app configured as the Lambda binaries would be.
pub struct World {
    pub sandbox: Sandbox,
    pub sandbox_addr: SocketAddr,
    pub secret_id: String,
    pub app: App,
}

impl World {
    pub async fn demo() -> Self {
        Self::with(SandboxData::demo(demo_start()), UpstreamPolicy::default()).await
    }

    /// The demo world with [`quick_policy`]: short attempts and backoff, so that a test of
    /// OmniLab failing takes well under a second.
    pub async fn quick() -> Self {
        Self::with(SandboxData::demo(demo_start()), quick_policy()).await
    }

    pub async fn with(data: SandboxData, policy: UpstreamPolicy) -> Self {
        let sandbox = Sandbox::new(data);
        let sandbox_addr = sandbox
            .serve("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the sandbox binds a loopback port");
        let secret_id = secrets::create(&Sandbox::default_credentials()).await;
        let app = app_for(sandbox_addr, &secret_id, policy);
        Self {
            sandbox,
            sandbox_addr,
            secret_id,
            app,
        }
    }

    /// Another app on the same sandbox, reading its credentials from `secret_id`.
    pub fn app_with_secret(&self, secret_id: &str) -> App {
        app_for(self.sandbox_addr, secret_id, quick_policy())
    }

    /// Another app on the same sandbox and secret, talking to OmniLab with `policy`.
    pub fn app_with_policy(&self, policy: UpstreamPolicy) -> App {
        app_for(self.sandbox_addr, &self.secret_id, policy)
    }

    /// `GET /bookings?{query}` as `customer`.
    pub async fn list(&self, customer: &str, query: &str) -> Answer {
        self.send(Route::ListBookings, list_event(customer).query(query))
            .await
    }

    /// `POST /bookings/{booking}/cancel` as `customer`.
    pub async fn cancel(&self, customer: &str, booking: &str) -> Answer {
        self.send(Route::CancelBooking, cancel_event(customer, booking))
            .await
    }

    /// Any event of `route`, for a test that sets what the two above do not (headers...).
    pub async fn send(&self, route: Route, event: Event) -> Answer {
        handle(&self.app, route, event).await
    }

    /// The compiled binary `name` as Lambda runs it, under a Runtime API of its own, with the
    /// template's settings against this world ([`function_env`]) and `settings` over them; once
    /// it has asked for work, so that its start-up is not timed with what a test does next.
    pub async fn deploy(
        &self,
        name: &str,
        settings: &[(&'static str, &str)],
    ) -> (Arc<RuntimeApi>, Function) {
        let mut env = function_env(self);
        for (key, value) in settings {
            set_env(&mut env, key, *value);
        }
        let runtime = Arc::new(RuntimeApi::start().await);
        let function = Function::spawn_ready(name, &runtime, &env).await;
        (runtime, function)
    }

    /// Rotates the OmniLab credentials: the sandbox accepts only the new ones from now on.
    pub fn rotate_upstream(&self, credentials: &ClientCredentials) {
        self.sandbox.set_credentials(credentials.clone());
    }
}

/// `event` of `route` handled by `app`, read: for an app other than a world's own.
pub async fn handle(app: &App, route: Route, event: Event) -> Answer {
    Answer::from(app.handle(route, request(event)).await)
}

/// The request the runtime loop makes of `event` (`bookings::lambda::request_of`), with no
/// invocation deadline: what an in-process test hands the app.
pub fn request(event: Event) -> Request {
    let payload = serde_json::to_vec(&Value::from(event)).expect("an event is JSON");
    bookings::lambda::request_of(&payload, Context::default())
}

/// `GET /bookings` as `customer`, as API Gateway passes it on after its JWT check: add a
/// query, headers or cookies, then make it `.json()` for a binary or `.request()` for the app.
pub fn list_event(customer: &str) -> Event {
    Event::new("GET", "/bookings").customer(customer)
}

/// `POST /bookings/{booking}/cancel` as `customer`, like [`list_event`].
pub fn cancel_event(customer: &str, booking: &str) -> Event {
    Event::new("POST", &format!("/bookings/{booking}/cancel")).customer(customer)
}

/// The settings the template gives both functions, against this world's sandbox and secret:
/// the environment of a compiled binary under the Runtime API.
pub fn function_env(world: &World) -> Vec<(&'static str, String)> {
    function_env_at(world.sandbox_addr, &world.secret_id)
}

/// [`function_env`] against the sandbox at `sandbox_addr` and the secret `secret_id`, for a
/// test that makes its own sandbox or secret rather than a [`World`].
pub fn function_env_at(sandbox_addr: SocketAddr, secret_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OMNILAB_API_HOST", format!("http://{sandbox_addr}")),
        ("OMNILAB_SECRET_ID", secret_id.to_owned()),
        ("EXTERNAL_ID_CLAIM", "sub".into()),
    ]
}

/// The setting of managed concurrency, as Lambda gives it: the container serves up to `slots`
/// invocations at once (unset, one at a time). For [`World::deploy`].
pub const fn max_concurrency(slots: &str) -> (&'static str, &str) {
    ("AWS_LAMBDA_MAX_CONCURRENCY", slots)
}

/// The longest one upstream attempt may take, in milliseconds. For [`World::deploy`].
pub const fn attempt_timeout_ms(ms: &str) -> (&'static str, &str) {
    ("OMNILAB_TIMEOUT_MS", ms)
}

/// Sets `key` in a function's environment, replacing the value [`function_env`] gave it.
pub fn set_env(env: &mut Vec<(&'static str, String)>, key: &'static str, value: impl Into<String>) {
    env.retain(|(set, _)| *set != key);
    env.push((key, value.into()));
}

/// The app as the Lambda binaries configure it from [`function_env_at`], against the sandbox
/// at `sandbox_addr`, with `policy` and without metrics (an in-process test reads none).
fn app_for(sandbox_addr: SocketAddr, secret_id: &str, policy: UpstreamPolicy) -> App {
    let env = function_env_at(sandbox_addr, secret_id);
    let mut config = Config::from_lookup(|var| {
        env.iter()
            .find(|(name, _)| *name == var)
            .map(|(_, value)| value.clone())
    })
    .expect("the template's settings are valid");
    config.omnilab.policy = policy;
    config.metrics = None;
    App::new(config)
}

/// A short upstream policy, so timeout tests take well under a second.
pub fn quick_policy() -> UpstreamPolicy {
    UpstreamPolicy {
        attempt_timeout: Duration::from_millis(400),
        base_backoff: Duration::from_millis(10),
        default_budget: Duration::from_secs(3),
        ..UpstreamPolicy::default()
    }
}

/// A response, read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl From<Response<Body>> for Answer {
    fn from(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let raw = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Self {
            status,
            content_type,
            headers: response.headers().clone(),
            body,
            raw,
        }
    }
}

impl Answer {
    /// A header of the answer, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status, naming `field` when given: its words in a
    /// language `Content-Language` names, and on a 503 the wait in `Retry-After`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, field: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.raw);
        assert_eq!(self.content_type, "application/problem+json");
        assert!(
            matches!(self.header("content-language"), Some("en" | "fr")),
            "Content-Language: {:?}",
            self.header("content-language")
        );
        let retry_after = self.header("retry-after");
        if status == 503 {
            let seconds: u64 = retry_after
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("a 503 says when to come back: {retry_after:?}"));
            assert!((1..=300).contains(&seconds), "Retry-After: {seconds}");
        }
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("tag:")),
            "{}",
            self.raw
        );
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.raw
        );
        match field {
            Some(field) => {
                assert_eq!(self.body["field"], field, "{}", self.raw);
                assert!(
                    self.body["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains(field)),
                    "{}",
                    self.raw
                );
            }
            None => assert!(self.body.get("field").is_none(), "{}", self.raw),
        }
    }

    pub fn booking_ids(&self) -> Vec<String> {
        self.body["bookings"]
            .as_array()
            .map(|bookings| {
                bookings
                    .iter()
                    .filter_map(|b| b["booking"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}
