//! CORS as the deployed API answers it: API Gateway's, from the template's `CorsConfiguration`,
//! read from `template.yaml` itself (compiled in), so the two cannot say different things. The
//! origins are the template's `AllowedOrigins` parameter, given here as `ALLOWED_ORIGINS`.
//!
//! What API Gateway documents for an HTTP API with a CORS configuration
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html>), and so
//! what this does:
//! - A preflight, an `OPTIONS` with `Origin` and `Access-Control-Request-Method`, is answered
//!   by API Gateway itself, with no route and no authorizer run: here no handler runs either.
//!   A listed origin gets it echoed in `Access-Control-Allow-Origin`, with the configured
//!   methods, headers and max age.
//! - Any other answer to a request whose `Origin` is listed carries
//!   `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers`, the authorizer's 401
//!   and 403 included; CORS headers of a backend's own are ignored.
//! - An origin that is not listed gets no CORS headers at all, so the browser keeps the answer
//!   from the page. Its preflight gets a bare 204 here (what deployed stacks answer: the smoke
//!   test checks it on every deploy).
//!
//! Origins compare as exact strings, scheme and port included: `http://localhost:5173` is not
//! `http://localhost:5174`, nor `https://localhost:5173`; `null` and a list of origins are no
//! origin of ours.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_norway::Value;

/// The deploy description the stack is made from, as compiled into this server.
const TEMPLATE: &str = include_str!("../../template.yaml");

/// The CORS configuration of the template's HTTP API, with its origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// `AllowOrigins`: exact origins.
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: u32,
}

impl Cors {
    /// The template's configuration, with `ALLOWED_ORIGINS`' value (comma-separated, as the
    /// `AllowedOrigins` parameter takes them) where it says `!Ref AllowedOrigins`.
    pub fn from_template(allowed_origins: &str) -> Result<Self, String> {
        Self::parse(TEMPLATE, allowed_origins)
    }

    fn parse(template: &str, allowed_origins: &str) -> Result<Self, String> {
        let template: Value =
            serde_norway::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
        let config = template["Resources"]
            .as_mapping()
            .into_iter()
            .flat_map(|resources| resources.values())
            .find(|resource| resource["Type"] == "AWS::Serverless::HttpApi")
            .map(|api| &api["Properties"]["CorsConfiguration"])
            .filter(|config| config.is_mapping())
            .ok_or("template.yaml has no HTTP API with a CorsConfiguration")?;
        let list = |name: &str| -> Result<Vec<String>, String> {
            match &config[name] {
                Value::Null => Ok(Vec::new()),
                Value::Sequence(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("CorsConfiguration.{name}: not a string list"))
                    })
                    .collect(),
                _ => Err(format!("CorsConfiguration.{name}: not a list")),
            }
        };
        let allow_origins = match &config["AllowOrigins"] {
            // `!Ref AllowedOrigins`: the parameter, given to us in the environment.
            Value::Tagged(_) => origins(allowed_origins)?,
            _ => list("AllowOrigins")?,
        };
        let max_age = config["MaxAge"]
            .as_u64()
            .and_then(|age| u32::try_from(age).ok())
            .ok_or("CorsConfiguration.MaxAge: not a number of seconds")?;
        Ok(Self {
            allow_origins,
            allow_methods: list("AllowMethods")?,
            allow_headers: list("AllowHeaders")?,
            expose_headers: list("ExposeHeaders")?,
            max_age,
        })
    }

    /// Whether `origin` (an `Origin` header) is one of ours.
    pub fn allows(&self, origin: &HeaderValue) -> bool {
        self.allow_origins
            .iter()
            .any(|allowed| allowed.as_bytes() == origin.as_bytes())
    }

    /// The answer to `method` with `headers` when it is a preflight, else `None`.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response> {
        if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = headers.get(header::ORIGIN)?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        if self.allows(origin) {
            let out = response.headers_mut();
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            for (name, values) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, &self.allow_methods),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers),
            ] {
                if let Ok(value) = HeaderValue::from_str(&values.join(",")) {
                    out.insert(name, value);
                }
            }
            out.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.into());
        }
        Some(response)
    }

    /// Adds what a listed `origin` may read to an answer, replacing any CORS header of its own.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        let out = response.headers_mut();
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_MAX_AGE,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ] {
            out.remove(name);
        }
        let Some(origin) = origin.filter(|origin| self.allows(origin)) else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if !self.expose_headers.is_empty()
            && let Ok(value) = HeaderValue::from_str(&self.expose_headers.join(","))
        {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }
}

/// `ALLOWED_ORIGINS`, checked as the template's `AllowedPattern` checks `AllowedOrigins`, but
/// without `*`: the dev server signs requests in itself, so `*` would let any site the
/// developer visits read and cancel as them.
fn origins(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            if origin == "*" {
                return Err("ALLOWED_ORIGINS: `*` is refused here (any site you visit could act as you): list your site's origin, like http://localhost:5173".to_owned());
            }
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let (host, port) = authority
                .map(|a| a.split_once(':').unwrap_or((a, "")))
                .unwrap_or_default();
            let host_ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            let port_ok = port.is_empty()
                || (port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()));
            if authority.is_some() && host_ok && port_ok {
                Ok(origin.to_owned())
            } else {
                Err(format!(
                    "ALLOWED_ORIGINS: {origin:?} is not an origin like http://localhost:5173 (scheme, host, optional port; no path)"
                ))
            }
        })
        .collect()
}

/// Puts CORS in front of every route of `router`.
pub fn layer(router: Router, cors: Arc<Cors>) -> Router {
    router.layer(middleware::from_fn_with_state(cors, enforce))
}

async fn enforce(State(cors): State<Arc<Cors>>, request: Request, next: Next) -> Response {
    if let Some(preflight) = cors.preflight(request.method(), request.headers()) {
        return preflight;
    }
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = next.run(request).await;
    cors.decorate(origin.as_ref(), &mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "http://localhost:5173";

    fn cors() -> Cors {
        Cors::from_template(&format!("{SITE}, https://www.example-brand.com")).unwrap()
    }

    fn preflight(origin: &[u8]) -> Option<Response> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_bytes(origin).unwrap());
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        cors().preflight(&Method::OPTIONS, &headers)
    }

    fn cors_headers(response: &Response) -> Vec<String> {
        response
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name.starts_with("access-control-"))
            .collect()
    }

    #[test]
    fn the_template_is_read_field_by_field() {
        let cors = cors();
        assert_eq!(cors.allow_origins, [SITE, "https://www.example-brand.com"]);
        assert_eq!(cors.allow_methods, ["GET", "POST", "OPTIONS"]);
        assert_eq!(cors.allow_headers, ["authorization", "content-type"]);
        assert_eq!(
            cors.expose_headers,
            ["apigw-requestid", "retry-after", "www-authenticate"]
        );
        assert_eq!(cors.max_age, 600);
    }

    #[test]
    fn a_listed_origin_gets_its_preflight_answered() {
        let answer = preflight(SITE.as_bytes()).expect("a preflight");
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        let h = answer.headers();
        assert_eq!(h["access-control-allow-origin"], SITE);
        assert_eq!(h["access-control-allow-methods"], "GET,POST,OPTIONS");
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization,content-type"
        );
        assert_eq!(h["access-control-max-age"], "600");
    }

    #[test]
    fn any_other_origin_gets_a_bare_204() {
        let hundred = vec![SITE; 100].join(", ");
        for origin in [
            "http://localhost:5174",
            "https://localhost:5173",
            "http://LOCALHOST:5173",
            "null",
            "not a url",
            hundred.as_str(),
        ] {
            let answer = preflight(origin.as_bytes()).expect("a preflight");
            assert_eq!(answer.status(), StatusCode::NO_CONTENT, "{origin}");
            assert!(cors_headers(&answer).is_empty(), "{origin}");
        }
        let binary = preflight(b"http://localhost:5173\xff").expect("a preflight");
        assert!(cors_headers(&binary).is_empty());
    }

    #[test]
    fn an_options_that_is_no_preflight_goes_on_to_the_routes() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static(SITE));
        assert!(cors().preflight(&Method::OPTIONS, &headers).is_none());
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("GET"),
        );
        assert!(cors().preflight(&Method::GET, &headers).is_none());
    }

    #[test]
    fn answers_expose_headers_to_a_listed_origin_only() {
        let cors = cors();
        let mut answer = StatusCode::UNAUTHORIZED.into_response();
        answer.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        cors.decorate(Some(&HeaderValue::from_static(SITE)), &mut answer);
        assert_eq!(answer.headers()["access-control-allow-origin"], SITE);
        assert_eq!(
            answer.headers()["access-control-expose-headers"],
            "apigw-requestid,retry-after,www-authenticate"
        );
        let mut foreign = StatusCode::OK.into_response();
        foreign.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        cors.decorate(
            Some(&HeaderValue::from_static("https://evil.example")),
            &mut foreign,
        );
        assert!(
            cors_headers(&foreign).is_empty(),
            "a backend's own CORS headers are dropped"
        );
    }

    #[test]
    fn allowed_origins_are_checked_as_the_template_checks_them() {
        assert_eq!(origins("").unwrap(), Vec::<String>::new());
        assert_eq!(
            origins(" http://localhost:5173 ,https://a.example").unwrap(),
            ["http://localhost:5173", "https://a.example"]
        );
        for bad in [
            "*",
            "localhost:5173",
            "http://localhost:5173/",
            "http://localhost:5173/app",
            "ftp://a.example",
            "http://a.example:123456",
            "http://user@a.example",
        ] {
            assert!(origins(bad).is_err(), "{bad}");
        }
    }
}
