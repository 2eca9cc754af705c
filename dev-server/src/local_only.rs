//! Keeps the dev server to the person who started it.
//!
//! The server may hold real staging credentials and, with its demo sign-in, signs every request
//! in as whoever `x-dev-customer` names, so anything that can get a request through acts as any customer. Two
//! ways a web page could do that, both closed here, before any route (page, API, sandbox faults,
//! even the 404 fallback) sees the request:
//!
//! - **DNS rebinding**: a page on `evil.example` re-points its own name at 127.0.0.1 and then
//!   talks to us "same-origin". Its requests still carry `Host: evil.example[:port]`, so we
//!   answer only a `Host` that is a loopback name or address (`localhost`, `127.x.y.z`, `[::1]`)
//!   with the port we are bound to. Anything else, a missing `Host` included, gets
//!   **421 Misdirected Request**: RFC 9110's "this server does not serve that authority", which
//!   is exactly the case (403 would suggest the right request could be authorised). No route
//!   runs, nothing goes upstream.
//! - **Cross-site requests** (CSRF): any site can make the browser send a form POST to
//!   `http://127.0.0.1:3000/bookings/…/cancel`. A state-changing request (any method but GET,
//!   HEAD and OPTIONS) is refused with **403** when its `Origin` is present and is not this
//!   server's own origin as the request addresses it (`http://` + the `Host` it came with, which
//!   the first check already holds to loopback and our port), `Origin: null` included (sandboxed
//!   frames, `file:` pages); or when `Sec-Fetch-Site` says the request comes from another site
//!   or another origin of the same site (`cross-site`, `same-site`: another local app on another
//!   port is not our page either). `none` (the user's own navigation) and `same-origin` pass.
//!
//! A state-changing request with neither `Origin` nor `Sec-Fetch-Site` is allowed: browsers send
//! `Origin` with every cross-origin POST/PUT/DELETE (forms and fetch alike), so such a request
//! comes from a non-browser client on this machine — curl, the examples in docs/local.md, a test —
//! which could read the credentials' environment anyway. Reads (GET) are not origin-checked: a
//! cross-site page can trigger them but not read the answers (CORS headers go only to the
//! origins in `ALLOWED_ORIGINS`), and following a link to the page from elsewhere must keep
//! working. A change from one of `ALLOWED_ORIGINS` (the brand's own site on its dev server) is
//! allowed, as the deployed API allows it; nothing else about the policy changes.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

/// Puts [`check`] in front of every route of `router`, for a server bound to `port`.
pub fn guard(router: Router, port: u16) -> Router {
    guard_allowing(router, port, Vec::new())
}

/// [`guard`], with changes also accepted from the brand's site at one of `origins` (the
/// template's `AllowedOrigins`: exact origins, which CORS lets read the answers too).
pub fn guard_allowing(router: Router, port: u16, origins: Vec<String>) -> Router {
    let policy = Arc::new(Policy { port, origins });
    router.layer(middleware::from_fn_with_state(policy, enforce))
}

struct Policy {
    port: u16,
    origins: Vec<String>,
}

async fn enforce(State(policy): State<Arc<Policy>>, request: Request, next: Next) -> Response {
    let checked = check(
        policy.port,
        &policy.origins,
        request.method(),
        request.uri(),
        request.headers(),
    );
    match checked {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(
                method = %request.method(),
                path = request.uri().path(),
                host = ?request.headers().get(header::HOST),
                origin = ?request.headers().get(header::ORIGIN),
                "refused: {}",
                refusal.detail()
            );
            refusal.into_response()
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` (or an absolute-form target) is not loopback with our port: 421.
    Misdirected,
    /// A state-changing request from another origin: 403.
    CrossSite,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            Refusal::CrossSite => StatusCode::FORBIDDEN,
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Refusal::Misdirected => {
                "This local dev server answers only requests addressed to it on loopback \
                 (localhost, 127.0.0.1 or [::1]) with its own port."
            }
            Refusal::CrossSite => {
                "This local dev server accepts changes only from its own page, not from \
                 another site."
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        // A problem document like the API's own errors, so the account page's alert reads it.
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Refused"),
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body.to_string(),
        )
            .into_response()
    }
}

/// The whole policy for a server bound to `port` that lets the site at each of `origins`
/// change things too (see the module documentation).
pub fn check(
    port: u16,
    origins: &[String],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().ok(),
        _ => None,
    };
    let host = host
        .and_then(|h| loopback(h, port))
        .ok_or(Refusal::Misdirected)?;
    // An absolute-form target (`POST http://evil.example/… HTTP/1.1`) names the authority too.
    if let Some(authority) = uri.authority()
        && loopback(authority.as_str(), port) != Some(host)
    {
        return Err(Refusal::Misdirected);
    }

    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    // The brand's own site, listed by the developer: a cross-origin caller by design (and so
    // `same-site` or `cross-site` to the browser), allowed as the deployed API allows it.
    if let Some(origin) = headers.get(header::ORIGIN)
        && origins.iter().any(|o| o.as_bytes() == origin.as_bytes())
    {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .and_then(|authority| loopback(authority, port));
        if own != Some(host) {
            return Err(Refusal::CrossSite);
        }
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(Refusal::CrossSite);
    }
    Ok(())
}

/// A loopback host, normalised so that `LOCALHOST` and `localhost` compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loopback {
    Localhost,
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// `authority` (`host[:port]`, as in `Host` or an origin) if its host is loopback and its port
/// is `port` (no port means 80, HTTP's default). Strict: `localhost.`, `foo.localhost`,
/// `127.1`, `0x7f.0.0.1`, IPv4-mapped IPv6 and userinfo are all refused.
fn loopback(authority: &str, port: u16) -> Option<Loopback> {
    let (host, rest) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (v6, rest) = bracketed.split_once(']')?;
            (v6, rest)
        }
        None => match authority.find(':') {
            Some(colon) => authority.split_at(colon),
            None => (authority, ""),
        },
    };
    let given = match rest.strip_prefix(':') {
        None if rest.is_empty() => 80,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<u16>().ok()?
        }
        _ => return None,
    };
    if given != port {
        return None;
    }
    if authority.starts_with('[') {
        return host
            .parse::<Ipv6Addr>()
            .ok()
            .filter(Ipv6Addr::is_loopback)
            .map(Loopback::V6);
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Some(Loopback::Localhost);
    }
    host.parse::<Ipv4Addr>()
        .ok()
        .filter(Ipv4Addr::is_loopback)
        .map(Loopback::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 3000;

    fn request(method: Method, pairs: &[(&'static str, &'static str)]) -> Result<(), Refusal> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        check(PORT, &[], &method, &Uri::from_static("/bookings"), &headers)
    }

    #[test]
    fn loopback_hosts_with_our_port_are_served() {
        for host in [
            "localhost:3000",
            "LocalHost:3000",
            "127.0.0.1:3000",
            "127.10.20.30:3000",
            "[::1]:3000",
            "[0:0:0:0:0:0:0:1]:3000",
        ] {
            assert_eq!(request(Method::GET, &[("host", host)]), Ok(()), "{host}");
        }
    }

    #[test]
    fn other_hosts_ports_and_spellings_are_misdirected() {
        for host in [
            "evil.example:3000",
            "evil.example",
            "localhost",
            "localhost:",
            "localhost:3001",
            "localhost:+3000",
            "localhost:65536",
            "localhost.:3000",
            "app.localhost:3000",
            "127.0.0.1:80",
            "127.1:3000",
            "0x7f.0.0.1:3000",
            "0.0.0.0:3000",
            "10.0.0.1:3000",
            "::1:3000",
            "[::1]",
            "[::1]3000",
            "[::ffff:127.0.0.1]:3000",
            "user@localhost:3000",
            "localhost:3000/",
            "",
        ] {
            assert_eq!(
                request(Method::GET, &[("host", host)]),
                Err(Refusal::Misdirected),
                "{host}"
            );
        }
        assert_eq!(request(Method::GET, &[]), Err(Refusal::Misdirected));
        let twice = [("host", "localhost:3000"), ("host", "localhost:3000")];
        assert_eq!(request(Method::GET, &twice), Err(Refusal::Misdirected));
    }

    #[test]
    fn no_port_means_80() {
        let headers = HeaderMap::from_iter([(header::HOST, HeaderValue::from_static("localhost"))]);
        assert_eq!(
            check(80, &[], &Method::GET, &Uri::from_static("/"), &headers),
            Ok(())
        );
    }

    #[test]
    fn an_absolute_target_must_name_us_too() {
        let headers =
            HeaderMap::from_iter([(header::HOST, HeaderValue::from_static("localhost:3000"))]);
        let ours = Uri::from_static("http://localhost:3000/bookings");
        let theirs = Uri::from_static("http://evil.example/bookings");
        assert_eq!(check(PORT, &[], &Method::GET, &ours, &headers), Ok(()));
        assert_eq!(
            check(PORT, &[], &Method::GET, &theirs, &headers),
            Err(Refusal::Misdirected)
        );
    }

    #[test]
    fn changes_only_from_our_own_origin() {
        let host = ("host", "127.0.0.1:3000");
        let own = ("origin", "http://127.0.0.1:3000");
        for method in [Method::POST, Method::DELETE] {
            assert_eq!(request(method.clone(), &[host, own]), Ok(()), "{method}");
        }
        let v6 = [("host", "[::1]:3000"), ("origin", "http://[::1]:3000")];
        assert_eq!(request(Method::POST, &v6), Ok(()));
        for origin in [
            "https://evil.example",
            "http://evil.example:3000",
            "null",
            "https://127.0.0.1:3000",
            "http://127.0.0.1:3001",
            "http://127.0.0.1",
            // Our port on another loopback name is another origin (and maybe another socket).
            "http://localhost:3000",
            "http://127.0.0.2:3000",
            "http://127.0.0.1:3000/",
        ] {
            for method in [Method::POST, Method::DELETE, Method::PUT, Method::PATCH] {
                assert_eq!(
                    request(method.clone(), &[host, ("origin", origin)]),
                    Err(Refusal::CrossSite),
                    "{method} from {origin}"
                );
            }
        }
    }

    #[test]
    fn sec_fetch_site_other_than_same_origin_refuses_changes() {
        let host = ("host", "localhost:3000");
        let origin = ("origin", "http://localhost:3000");
        for site in ["cross-site", "same-site", "garbage"] {
            let refused = Err(Refusal::CrossSite);
            assert_eq!(
                request(Method::POST, &[host, ("sec-fetch-site", site)]),
                refused
            );
            assert_eq!(
                request(Method::POST, &[host, origin, ("sec-fetch-site", site)]),
                refused
            );
        }
        for site in ["same-origin", "none"] {
            assert_eq!(
                request(Method::POST, &[host, origin, ("sec-fetch-site", site)]),
                Ok(())
            );
        }
    }

    #[test]
    fn reads_and_originless_changes_pass() {
        let host = ("host", "localhost:3000");
        let evil = ("origin", "https://evil.example");
        let cross = ("sec-fetch-site", "cross-site");
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert_eq!(request(method, &[host, evil, cross]), Ok(()));
        }
        // curl and other non-browser clients send no Origin.
        assert_eq!(request(Method::POST, &[host]), Ok(()));
    }
}
