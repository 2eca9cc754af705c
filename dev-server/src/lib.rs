//! `cargo run -p dev-server`: the product on your machine, no AWS account needed.
//! `cargo run -p dev-server -- --tls`: the same, with the sandbox served over HTTPS under a
//! tenant host name, as production reaches OmniLab (rustls, ALPN, HTTP/2).
//!
//! Serves our two routes on http://127.0.0.1:3000 by calling the very handler code the Lambda
//! binaries run, with each request wrapped as the API Gateway HTTP API event Lambda would get.
//! Upstream is the embedded OmniLab sandbox (demo data), or a real OmniLab environment when
//! `OMNILAB_API_HOST` and `OMNILAB_CLIENT_ID`/`OMNILAB_CLIENT_SECRET`/`OMNILAB_AUDIENCE` are set.
//!
//! In front of both routes stands API Gateway's JWT authorizer ([`authorizer`]), with the brand's
//! identity provider (`JWT_ISSUER`, `JWT_AUDIENCE`) or the demo sign-in, where the server issues
//! a token for the demo customer (or the one named in `x-dev-customer`) and judges it the same
//! way ([`sign_in`]). Since the demo lets any request that reaches us act as any customer, with
//! whatever credentials we hold, every route sits behind [`local_only::guard`]: loopback `Host`
//! with our port only (DNS rebinding), and changes only from our own origin (cross-site requests).
//!
//! # Layout
//!
//! - [`run`]: the settings from the environment, the sandbox or a real OmniLab, the routes.
//! - [`authorizer`]: API Gateway's JWT check, its key cache, its claims, a signing key.
//! - [`sign_in`]: the brand's issuer or the demo sign-in, and what the page is told of it.
//! - [`cors`]: CORS as API Gateway answers it, from the template's `CorsConfiguration` and
//!   `ALLOWED_ORIGINS`.
//! - [`local_only`]: only this machine's own user, no cross-site changes but from those origins.

pub mod authorizer;
pub mod cors;
pub mod local_only;
mod request_id;
pub mod sign_in;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{any, get, post};
use bookings::config::parse_api_host;
use bookings::omnilab::{Credentials, CredentialsSource, TestTls};
use bookings::{App, Config, Route};
use sandbox::gateway::Event;
use sandbox::tls::{Authority, Presented, Protocols, Tls};
use sandbox::{ClientCredentials, DEMO_CUSTOMER, Endpoint, Fault, Sandbox, SandboxData};

use crate::authorizer::{Authorizer, RouteScopes, Settings, comma_list};
use crate::request_id::RequestId;
use crate::sign_in::{PageSignIn, SignIn, TokenKind};

/// The tenant host `--tls` serves the sandbox under, resolved to loopback by the product's
/// client alone (nothing changes in DNS or /etc/hosts).
const TLS_HOST: &str = "demo.api.omnilab-dev.21-digital.com";

#[derive(Clone)]
struct Server {
    app: App,
    sign_in: Arc<SignIn>,
    sandbox: Option<Sandbox>,
}

/// Reads the settings from the environment and serves until Ctrl-C.
pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
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
    let mut config = Config::local(api_base.clone(), CredentialsSource::Static(credentials));
    config.external_id_claim = claim.clone();
    config.omnilab.test_tls = test_tls.clone();
    let app = App::new(config);
    let cors = cors::Cors::from_template(&std::env::var("ALLOWED_ORIGINS").unwrap_or_default())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    // The port we really got (PORT=0 picks one): the only one `local_only` lets a request name.
    let addr = listener.local_addr()?;
    let port = addr.port();
    let sign_in = sign_in_from_env(&format!("http://{addr}"), claim)?;
    let server = Server {
        app,
        sign_in: Arc::new(sign_in),
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
        .route("/sign-in.json", get(page_sign_in))
        .route("/vendor/oidc-client-ts.js", get(oidc_client))
        // Every method reaches the handlers, which answer 405 as the Lambdas would.
        .route("/bookings", any(api))
        .route("/bookings/{booking}/cancel", any(api));
    if server.sandbox.is_some() {
        router = router
            .route("/_sandbox/faults", post(inject_fault))
            .route("/_sandbox/faults", axum::routing::delete(clear_faults))
            .route("/_sandbox/counters", get(counters));
    }
    if server.sign_in.demo_documents().is_some() {
        router = router
            .route("/.well-known/openid-configuration", get(demo_discovery))
            .route("/.well-known/jwks.json", get(demo_jwks));
    }
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
    match &*server.sign_in {
        SignIn::Demo { .. } => println!(
            "  signed in as {DEMO_CUSTOMER} (demo sign-in: tokens this server signs and judges as API Gateway would; send `x-dev-customer: <external id>` to switch)"
        ),
        SignIn::Issuer { authorizer, page } => println!(
            "  sign-in: tokens from {} for audience {} (API Gateway's JWT check; the page signs in as {})",
            authorizer.settings().issuer.as_str(),
            authorizer.settings().audiences.join(","),
            page.client_id
                .as_deref()
                .unwrap_or("nobody: OIDC_CLIENT_ID is not set"),
        ),
    }
    println!("  upstream: {upstream}");
    if cors.allow_origins.is_empty() {
        println!(
            "  CORS: no other origin (ALLOWED_ORIGINS=http://localhost:5173 lets your site call this server)"
        );
    } else {
        println!("  CORS: {}", cors.allow_origins.join(", "));
    }
    let origins = cors.allow_origins.clone();
    let app = cors::layer(router.with_state(server), Arc::new(cors));
    let app = request_id::layer(local_only::guard_allowing(app, port, origins));
    axum::serve(listener, app)
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
    id: Option<Extension<RequestId>>,
) -> Response {
    let route = if uri.path() == "/bookings" {
        Route::ListBookings
    } else {
        Route::CancelBooking
    };
    let id = id.map(|Extension(RequestId(id))| id);
    server
        .call(
            route,
            method,
            uri.path(),
            query.as_deref(),
            &headers,
            id.as_deref(),
        )
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
        request_id: Option<&str>,
    ) -> Response {
        let grant = match self.sign_in.judge(route, headers).await {
            Ok(grant) => grant,
            Err(denied) => {
                // The kind alone: never the token, a claim or a key.
                tracing::info!(
                    route = route.name(),
                    refused = denied.kind(),
                    "the JWT check refused the request"
                );
                return denied.into_response();
            }
        };
        // The API Gateway event Lambda would receive (claims included), decoded with lambda_http's
        // own decoder: the handlers see exactly what they see on AWS.
        let mut event = Event::new(method.as_str(), path)
            .route_key(route.key())
            .query(query.unwrap_or_default())
            .authorizer(serde_json::Value::Object(grant.claims), grant.scopes)
            .domain("127.0.0.1")
            .request_id(request_id.unwrap_or("local"))
            .source("127.0.0.1", "dev-server");
        // The request's headers, as payload 2.0 carries them: names in lower case, repeats
        // joined with commas (`Accept-Language` is how a handler picks the problem's words).
        for name in headers.keys() {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if !values.is_empty() {
                event = event.header(name.as_str(), &values.join(","));
            }
        }
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

/// What the sandbox has served: the calls our API made to "OmniLab", for a test to check that a
/// refused request made none.
async fn counters(State(server): State<Server>) -> Response {
    match server.sandbox {
        Some(sandbox) => {
            let counters = sandbox.counters();
            Json(serde_json::json!({
                "token_requests": counters.token_requests,
                "token_exchanges": counters.token_exchanges,
                "fetches": counters.fetches,
                "cancels": counters.cancels,
            }))
            .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The sign-in the environment asks for: the brand's issuer when `JWT_ISSUER` and
/// `JWT_AUDIENCE` are set (both or neither), else the demo sign-in of the server at `origin`.
fn sign_in_from_env(origin: &str, claim: String) -> Result<SignIn, Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // The template's ListBookingsScopes and CancelBookingScopes take three at most (SAM wants a
    // literal list, so template.yaml has three slots): more would work here and not deployed.
    let route_scopes = |name: &str, parameter: &str| {
        let scopes = comma_list(&var(name).unwrap_or_default());
        if scopes.len() > 3 {
            return Err(format!(
                "{name} lists {} scopes: the template's {parameter} takes three at most",
                scopes.len()
            ));
        }
        Ok(scopes)
    };
    let scopes = RouteScopes {
        list_bookings: route_scopes("LIST_SCOPES", "ListBookingsScopes")?,
        cancel_booking: route_scopes("CANCEL_SCOPES", "CancelBookingScopes")?,
    };
    let (issuer, audience) = match (var("JWT_ISSUER"), var("JWT_AUDIENCE")) {
        (Some(issuer), Some(audience)) => (issuer, audience),
        (None, None) => return Ok(SignIn::demo(origin, claim, scopes)?),
        (Some(_), None) => return Err("JWT_ISSUER is set but JWT_AUDIENCE is not: set both (the template's JwtIssuer and JwtAudience), or neither for the demo sign-in".into()),
        (None, Some(_)) => return Err("JWT_AUDIENCE is set but JWT_ISSUER is not: set both (the template's JwtIssuer and JwtAudience), or neither for the demo sign-in".into()),
    };
    let settings = Settings::new(&issuer, &audience, scopes)?;
    let token = match var("OIDC_TOKEN").as_deref() {
        None | Some("access") => TokenKind::Access,
        Some("id") => TokenKind::Id,
        Some(_) => return Err("OIDC_TOKEN must be `access` or `id`".into()),
    };
    let scope = var("OIDC_SCOPE").unwrap_or_else(|| {
        let mut scope = vec!["openid".to_owned()];
        for wanted in settings
            .scopes
            .list_bookings
            .iter()
            .chain(&settings.scopes.cancel_booking)
        {
            if !scope.contains(wanted) {
                scope.push(wanted.clone());
            }
        }
        scope.join(" ")
    });
    let extra = var("OIDC_EXTRA_PARAMS").unwrap_or_default();
    let extra_query_params = reqwest::Url::parse(&format!("http://params/?{extra}"))
        .map_err(|_| "OIDC_EXTRA_PARAMS must be a query string, like audience=https://api.example-brand.com")?
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    let client_id = var("OIDC_CLIENT_ID");
    if client_id.is_some() {
        ensure_oidc_client()?;
    }
    Ok(SignIn::Issuer {
        page: PageSignIn {
            authority: settings.issuer.as_str().to_owned(),
            client_id,
            scope,
            token,
            extra_query_params,
        },
        authorizer: Authorizer::new(settings),
    })
}

/// Where npm puts oidc-client-ts's browser build (dev-server/page/package-lock.json pins it).
fn oidc_client_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("page/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js")
}

/// The page's sign-in library, installed with npm the first time the page needs it.
fn ensure_oidc_client() -> Result<(), Box<dyn std::error::Error>> {
    if oidc_client_path().is_file() {
        return Ok(());
    }
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("page");
    println!(
        "installing the page's sign-in library (npm ci in {})",
        page.display()
    );
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&page)
        .status()
        .map_err(|e| {
            format!("could not run npm (the page's sign-in library comes from npm): {e}")
        })?;
    if !status.success() || !oidc_client_path().is_file() {
        return Err(format!("npm ci in {} failed", page.display()).into());
    }
    Ok(())
}

async fn page_sign_in(State(server): State<Server>) -> Json<serde_json::Value> {
    Json(server.sign_in.page())
}

/// oidc-client-ts, served from this machine's npm install: never from a CDN.
async fn oidc_client() -> Response {
    match tokio::fs::read(oidc_client_path()).await {
        Ok(script) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            script,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "oidc-client-ts is not installed: npm ci --prefix dev-server/page",
        )
            .into_response(),
    }
}

async fn demo_discovery(State(server): State<Server>) -> Response {
    match server.sign_in.demo_documents() {
        Some((discovery, _)) => Json(discovery).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn demo_jwks(State(server): State<Server>) -> Response {
    match server.sign_in.demo_documents() {
        Some((_, jwks)) => Json(jwks).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
