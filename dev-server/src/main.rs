//! `cargo run -p dev-server`: the product on your machine, no AWS account needed.
//! `cargo run -p dev-server -- --tls`: the same, with the sandbox served over HTTPS under a
//! tenant host name, as production reaches OmniLab (rustls, ALPN, HTTP/2).
//!
//! Serves our two routes on http://127.0.0.1:3000 by calling the very handler code the Lambda
//! binaries run, with each request wrapped as the API Gateway HTTP API event Lambda would get.
//! Upstream is the embedded OmniLab sandbox (demo data), or a real OmniLab environment when
//! `OMNILAB_API_HOST` and `OMNILAB_CLIENT_ID`/`OMNILAB_CLIENT_SECRET`/`OMNILAB_AUDIENCE` are set.
//!
//! There is no JWT authorizer here, so this server plays its part: it signs every request in as
//! the demo customer, or as the one named in the `x-dev-customer` header. That header means
//! nothing to the Lambda binaries, which only read the authorizer's claims. Since that makes any
//! request that reaches us act as any customer, with whatever credentials we hold, every route
//! sits behind [`local_only::guard`]: loopback `Host` with our port only (DNS rebinding), and
//! changes only from our own origin (cross-site requests).

mod local_only;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use bookings::config::{UpstreamPolicy, parse_api_host};
use bookings::omnilab::{Credentials, CredentialsSource, TestTls};
use bookings::{App, Config, Route};
use sandbox::gateway::Event;
use sandbox::tls::{Authority, Presented, Protocols, Tls};
use sandbox::{ClientCredentials, DEMO_CUSTOMER, Endpoint, Fault, Sandbox, SandboxData};

/// The tenant host `--tls` serves the sandbox under, resolved to loopback by the product's
/// client alone (nothing changes in DNS or /etc/hosts).
const TLS_HOST: &str = "demo.api.omnilab-dev.21-digital.com";

#[derive(Clone)]
struct Server {
    app: App,
    claim: String,
    sandbox: Option<Sandbox>,
}

#[tokio::main]
async fn main() {
    bookings::telemetry::init();
    if let Err(error) = run().await {
        tracing::error!(%error, "dev server stopped");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let claim = std::env::var("EXTERNAL_ID_CLAIM").unwrap_or_else(|_| "sub".into());
    let tls = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => false,
        [flag] if flag == "--tls" => true,
        _ => return Err("usage: dev-server [--tls]".into()),
    };
    let mut test_tls = TestTls::default();
    let (api_base, credentials, sandbox) = match std::env::var("OMNILAB_API_HOST") {
        Ok(_) if tls => return Err("--tls serves the sandbox: unset OMNILAB_API_HOST".into()),
        Ok(host) => (parse_api_host(&host)?, real_credentials()?, None),
        Err(_) if tls => {
            let sandbox = Sandbox::new(SandboxData::demo(today()));
            // No `local_only` guard here: it checks for a loopback `Host`, and this one is the
            // tenant's. The certificate does its job: it is for that name alone, from an
            // authority made for this run that only our client trusts, so a browser sent here
            // under a rebound name refuses the connection.
            let authority = Authority::new("OmniLab Bookings dev server, this run only")?;
            let served = sandbox
                .serve_tls(
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                    Tls {
                        authority: &authority,
                        host: TLS_HOST,
                        presented: Presented::Valid,
                        protocols: Protocols::H2AndHttp11,
                    },
                )
                .await?;
            test_tls = TestTls {
                root_certificate: Some(authority.root_der().to_vec()),
                resolve: Some((TLS_HOST.to_owned(), served.addr)),
            };
            (
                format!("https://{TLS_HOST}"),
                product_credentials(Sandbox::default_credentials()),
                Some(sandbox),
            )
        }
        Err(_) => {
            let sandbox = Sandbox::new(SandboxData::demo(today()));
            // Behind the same guard as this server: loopback `Host` with the sandbox's own port,
            // so a rebound DNS name cannot reach its data, tokens or fault switches.
            let addr = sandbox
                .serve_with(SocketAddr::from(([127, 0, 0, 1], 0)), local_only::guard)
                .await?;
            (
                format!("http://{addr}"),
                product_credentials(Sandbox::default_credentials()),
                Some(sandbox),
            )
        }
    };
    let app = App::new(Config {
        api_base: api_base.clone(),
        credentials: CredentialsSource::Static(credentials),
        external_id_claim: claim.clone(),
        token_table: None,
        metrics_namespace: None,
        upstream: UpstreamPolicy::default(),
        test_tls: test_tls.clone(),
    });
    let server = Server {
        app,
        claim,
        sandbox,
    };
    let mut router = Router::new()
        .route(
            "/",
            get(|| async { Html(include_str!("../page/index.html")) }),
        )
        .route(
            "/app.js",
            get(|| {
                static_file(
                    "text/javascript; charset=utf-8",
                    include_str!("../page/app.js"),
                )
            }),
        )
        .route(
            "/style.css",
            get(|| static_file("text/css; charset=utf-8", include_str!("../page/style.css"))),
        )
        // Every method reaches the handlers, which answer 405 as the Lambdas would.
        .route("/bookings", any(api))
        .route("/bookings/{booking}/cancel", any(api));
    if server.sandbox.is_some() {
        router = router
            .route("/_sandbox/faults", post(inject_fault))
            .route("/_sandbox/faults", axum::routing::delete(clear_faults));
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    // The port we really got (PORT=0 picks one): the only one `local_only` lets a request name.
    let port = listener.local_addr()?.port();
    let upstream = if let Some((_, addr)) = &test_tls.resolve {
        format!(
            "the OmniLab sandbox at {api_base} (demo data; HTTPS on {addr}, its certificate from an authority made for this run)"
        )
    } else if server.sandbox.is_some() {
        format!("the OmniLab sandbox at {api_base} (demo data)")
    } else {
        format!("OmniLab at {api_base}")
    };
    println!(
        "OmniLab Bookings dev server: open http://{}/",
        listener.local_addr()?
    );
    println!("  signed in as {DEMO_CUSTOMER} (send `x-dev-customer: <external id>` to switch)");
    println!("  upstream: {upstream}");
    axum::serve(listener, local_only::guard(router.with_state(server), port))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Midnight UTC today, so the demo's bookings are always upcoming.
fn today() -> jiff::Timestamp {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now - now.rem_euclid(86_400))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The sandbox's credentials, as the product holds them.
fn product_credentials(credentials: ClientCredentials) -> Credentials {
    let ClientCredentials {
        client_id,
        client_secret,
        audience,
    } = credentials;
    Credentials {
        client_id,
        client_secret,
        audience,
    }
}

fn real_credentials() -> Result<Credentials, String> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| format!("{name} is not set (needed with OMNILAB_API_HOST)"))
    };
    Ok(Credentials {
        client_id: var("OMNILAB_CLIENT_ID")?,
        client_secret: var("OMNILAB_CLIENT_SECRET")?,
        audience: var("OMNILAB_AUDIENCE")?,
    })
}

async fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Both API routes: the router matched one of their two paths, and the path says which.
async fn api(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let route = if uri.path() == "/bookings" {
        Route::ListBookings
    } else {
        Route::CancelBooking
    };
    server
        .call(route, method, uri.path(), query.as_deref(), &headers)
        .await
}

impl Server {
    async fn call(
        &self,
        route: Route,
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Response {
        let customer = headers
            .get("x-dev-customer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(DEMO_CUSTOMER);
        // The API Gateway event Lambda would receive (claims included), decoded with lambda_http's
        // own decoder: the handlers see exactly what they see on AWS.
        let event = Event::new(method.as_str(), path)
            .route_key(route.key())
            .query(query.unwrap_or_default())
            .claims(serde_json::json!({ self.claim.as_str(): customer }))
            .domain("127.0.0.1")
            .request_id("local")
            .source("127.0.0.1", "dev-server");
        let request = match event.try_request() {
            Ok(request) => request,
            Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
        };
        // Boxed: the handler future nests deep enough to overflow rustc's layout query depth
        // when inlined into this one (error "queries overflow the depth limit").
        let response = Box::pin(self.app.handle(route, request)).await;
        let (parts, body) = response.into_parts();
        (
            parts.status,
            parts.headers,
            Bytes::copy_from_slice(body.as_ref()),
        )
            .into_response()
    }
}

/// `{"endpoint": "fetch"|"cancel"|"token"|"any", "fault": "500"|"429"|"slow"|"malformed"|"drop", "count": n}`
#[derive(serde::Deserialize)]
struct FaultRequest {
    endpoint: String,
    fault: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

async fn inject_fault(
    State(server): State<Server>,
    axum::Json(request): axum::Json<FaultRequest>,
) -> StatusCode {
    let Some(sandbox) = server.sandbox else {
        return StatusCode::NOT_FOUND;
    };
    let endpoint = match request.endpoint.as_str() {
        "fetch" => Endpoint::Fetch,
        "cancel" => Endpoint::Cancel,
        "token" => Endpoint::Token,
        "any" => Endpoint::Any,
        _ => return StatusCode::BAD_REQUEST,
    };
    let fault = match request.fault.as_str() {
        "429" => Fault::RateLimited { retry_after: None },
        "slow" => Fault::Slow(std::time::Duration::from_secs(30)),
        "malformed" => Fault::Malformed,
        "drop" => Fault::Drop,
        status => match status.parse::<u16>() {
            Ok(code @ 400..=599) => Fault::Status(code),
            _ => return StatusCode::BAD_REQUEST,
        },
    };
    for _ in 0..request.count.min(100) {
        sandbox.inject(endpoint, fault.clone());
    }
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(server): State<Server>) -> StatusCode {
    match server.sandbox {
        Some(sandbox) => {
            sandbox.clear_faults();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}
