//! The event Lambda hands us, made into the request our routes read: always a request, whatever
//! arrived.
//!
//! # Why not lambda_http's conversion
//!
//! lambda_http turns an HTTP API event into a request by building an absolute URI from the
//! `x-forwarded-proto` and `host` headers, `rawPath` and `rawQueryString`, and panics when that
//! URI does not parse: a raw space, `"`, `<` or `>` in the query, or `x-forwarded-proto: ht tp`.
//! A panic there, before any code of ours runs, is an invocation error, and the `Errors` metric
//! is a rollback alarm of every canary and a paging alarm. API Gateway's documentation does not
//! say it never forwards such bytes, so we read the event ourselves, the same way otherwise
//! (the same extensions, read through lambda_http's `RequestExt`), with two differences:
//!
//! - the URI is the path and query only: nothing here reads a scheme or host, so no header can
//!   make a request unreadable;
//! - what cannot be read (a path or query that is no URI, a payload that is no HTTP API event)
//!   marks the request [`Unreadable`], and [`App`](crate::App) answers it 400 before any route
//!   runs. Upstream, lambda_http's `build_request_uri` would want the same fallback.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderValue, Uri, header};
use lambda_http::lambda_runtime::Context;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

use crate::api::Unreadable;

/// The request of one invocation: its payload read as an HTTP API event, the X-Ray trace id
/// as a header, the invocation's context. The runtime loop's way in; the fuzz target and the
/// tests read events the same way.
pub fn request_of(payload: &[u8], context: Context) -> Request {
    let mut request = match serde_json::from_slice::<ApiGatewayV2httpRequest>(payload) {
        Ok(event) => from_event(event),
        Err(_) => unreadable(Request::default(), Unreadable::Event),
    };
    if let Some(trace) = context
        .xray_trace_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        request.headers_mut().insert("x-amzn-trace-id", trace);
    }
    request.with_lambda_context(context)
}

fn from_event(event: ApiGatewayV2httpRequest) -> Request {
    let raw_path = event.raw_path.unwrap_or_default();
    let uri = match event.raw_query_string.as_deref() {
        None | Some("") => raw_path.parse::<Uri>().map_err(|_| Unreadable::Path),
        Some(query) => match raw_path.parse::<Uri>() {
            Err(_) => Err(Unreadable::Path),
            Ok(_) => format!("{raw_path}?{query}")
                .parse::<Uri>()
                .map_err(|_| Unreadable::Query),
        },
    };
    // lambda_http's choice: the parameters from `rawQueryString` (repeats and all), not from
    // API Gateway's comma-joined `queryStringParameters`.
    let query = match &event.raw_query_string {
        Some(query) => query.parse::<QueryMap>().unwrap_or_default(),
        None => event.query_string_parameters,
    };
    let mut headers = event.headers;
    if let Some(cookie) = event
        .cookies
        .and_then(|cookies| HeaderValue::from_str(&cookies.join("; ")).ok())
    {
        headers.insert(header::COOKIE, cookie);
    }
    let body = event.body.as_deref().map_or(Body::Empty, |text| {
        Body::from_maybe_encoded(event.is_base64_encoded, text)
    });
    let mut request = Request::new(body);
    *request.method_mut() = event.request_context.http.method.clone();
    *request.headers_mut() = headers;
    let request = request
        .with_raw_http_path(raw_path)
        .with_query_string_parameters(query)
        .with_path_parameters(QueryMap::from(event.path_parameters))
        .with_stage_variables(QueryMap::from(event.stage_variables))
        .with_request_context(RequestContext::ApiGatewayV2(event.request_context));
    match uri {
        Ok(uri) => {
            let mut request = request;
            *request.uri_mut() = uri;
            request
        }
        Err(part) => unreadable(request, part),
    }
}

/// The request, marked as one that could not be read: its headers and context stay (the
/// answer's language, the log's request ids), no route will see it.
fn unreadable(mut request: Request, part: Unreadable) -> Request {
    request.extensions_mut().insert(part);
    request
}

#[cfg(test)]
mod tests {
    use lambda_http::http::Method;
    use serde_json::{Value, json};

    use super::*;

    fn event(raw_path: &str, raw_query: &str, headers: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "version": "2.0",
            "routeKey": "GET /bookings",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "t"},
                "requestId": "r-1", "routeKey": "GET /bookings", "stage": "$default",
                "time": "04/Dec/2026:20:00:00 +0000", "timeEpoch": 0
            },
            "isBase64Encoded": false
        }))
        .unwrap()
    }

    fn context() -> Context {
        let mut context = Context::default();
        context.request_id = "lambda-1".into();
        context.xray_trace_id = Some("Root=1-abc".into());
        context
    }

    #[test]
    fn a_request_is_made_as_lambda_http_makes_it() {
        let payload = event(
            "/bookings",
            "page_size=5&page_size=6",
            json!({"accept": "application/json"}),
        );
        let request = request_of(&payload, context());
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().path(), "/bookings");
        assert_eq!(request.headers()["x-amzn-trace-id"], "Root=1-abc");
        assert_eq!(request.headers()["accept"], "application/json");
        assert_eq!(request.lambda_context_ref().unwrap().request_id, "lambda-1");
        assert_eq!(request.raw_http_path(), "/bookings");
        let sizes: Vec<&str> = request
            .query_string_parameters_ref()
            .unwrap()
            .all("page_size")
            .unwrap();
        assert_eq!(sizes, ["5", "6"]);
        assert!(request.extensions().get::<Unreadable>().is_none());
        assert!(matches!(
            request.request_context_ref(),
            Some(RequestContext::ApiGatewayV2(_))
        ));
    }

    /// What made lambda_http panic: each is a request, marked or not, never a panic.
    #[test]
    fn bytes_no_uri_can_hold_are_an_unreadable_request() {
        for raw in ["a=\"1\"", "a=<b>", "a=1 2", "page_size=5\u{7f}"] {
            let request = request_of(&event("/bookings", raw, json!({})), context());
            assert_eq!(
                request.extensions().get::<Unreadable>(),
                Some(&Unreadable::Query),
                "{raw:?}"
            );
            // Still the request's own headers and ids: the answer's language, the log's ids.
            assert_eq!(request.lambda_context_ref().unwrap().request_id, "lambda-1");
            assert!(request.request_context_ref().is_some());
        }
        let request = request_of(&event("/book ings", "", json!({})), context());
        assert_eq!(
            request.extensions().get::<Unreadable>(),
            Some(&Unreadable::Path)
        );
    }

    #[test]
    fn headers_we_never_read_cannot_make_a_request_unreadable() {
        let headers = json!({"x-forwarded-proto": "ht tp", "host": "a b"});
        let request = request_of(&event("/bookings", "page_size=5", headers), context());
        assert!(request.extensions().get::<Unreadable>().is_none());
        assert_eq!(request.headers()["x-forwarded-proto"], "ht tp");
    }

    #[test]
    fn a_payload_that_is_no_http_api_event_is_unreadable() {
        for payload in [&b"{}"[..], b"[]", b"not json", b"", br#"{"headers": 5}"#] {
            let request = request_of(payload, context());
            assert_eq!(
                request.extensions().get::<Unreadable>(),
                Some(&Unreadable::Event),
                "{:?}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
