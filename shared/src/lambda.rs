//! The Lambda process itself: logging, the configuration, the runtime loop.

use lambda_http::http::{HeaderMap, HeaderValue, header};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{Request, RequestExt, Response};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::api::{App, Reply, Route};
use crate::config::Config;

/// The whole `main` of each binary: a runtime fit for how Lambda runs this container, then
/// [`serve`].
///
/// Why two kinds of runtime: classic Lambda gives a container one request at a time, and a
/// multi-threaded runtime then only hands that one request's work between threads (futex and
/// epoll calls, and CPU time that Lambda bills at a fraction of a core). With
/// `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda's managed concurrency), requests do run at once
/// and get worker threads.
pub fn run(route: Route) -> Result<(), lambda_http::Error> {
    let mut builder = if concurrent() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder.enable_all().build()?;
    // The loop runs as a task, not as `block_on`'s own future: a task that an I/O event or
    // another task wakes goes on the runtime's queue and runs next, while waking `block_on`'s
    // future makes the current-thread runtime poll the kernel once more before polling it (an
    // `epoll_wait` with no timeout after every answer read: three a warm page, strace).
    runtime.block_on(async { tokio::spawn(serve(route)).await? })
}

/// Whether Lambda may hand this container several requests at once, as lambda_runtime reads it.
fn concurrent() -> bool {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
        .is_some_and(|slots| slots > 1)
}

/// A Lambda function serving `route`, on the runtime [`run`] chose.
///
/// Logging first, then the configuration, then one runtime loop per
/// `AWS_LAMBDA_MAX_CONCURRENCY` slot (one on classic Lambda), all sharing the app: its HTTP
/// connections, credentials and token.
///
/// The loop is lambda_runtime's, as `lambda_http::run_concurrent` would drive it, with the
/// event made into a request the way lambda_http does it ([`request_of`]); only the answer
/// leaves differently: as the response document written once ([`Envelope`]), not as
/// lambda_http's response type, which lambda_runtime would serialize escaping the whole body.
pub async fn serve(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = app_from_env();
    app.prepare_in_background();
    lambda_runtime::run_concurrent(lambda_runtime::service_fn(
        move |event: LambdaEvent<LambdaRequest>| {
            let app = app.clone();
            async move {
                let answer = app.answer(route, request_of(event));
                let response = crate::telemetry::in_one_write(answer).await;
                // Infallible, not lambda_http's boxed error: with that, the future is not
                // provably `Send` for `tokio::spawn` (rustc's "`From` is not general enough").
                Ok::<_, std::convert::Infallible>(Envelope::of(response))
            }
        },
    ))
    .await
}

/// The request lambda_http's adapter makes of an event: the event's own conversion, the X-Ray
/// trace id as a header, and the invocation's context.
fn request_of(event: LambdaEvent<LambdaRequest>) -> Request {
    let LambdaEvent { payload, context } = event;
    let mut request = Request::from(payload);
    if let Some(trace) = context
        .xray_trace_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        request.headers_mut().insert("x-amzn-trace-id", trace);
    }
    request.with_lambda_context(context)
}

/// An answer as the Runtime API takes it for API Gateway's HTTP API (payload format 2.0): the
/// JSON document lambda_http's `ApiGatewayV2httpResponse` serializes to, field for field and in
/// its order (a unit test compares the two).
///
/// Why written here: the list's body is already escaped ([`crate::escaped::Escaped`]), so the
/// document is a copy of it between a few fields, where serializing lambda_http's type would
/// escape the whole body once more (a quarter of a warm page's instructions). lambda_runtime
/// serializes what a handler returns with serde_json, and serde_json passes one kind of value
/// through as it is: a `RawValue`. Made the public way, a `RawValue` is parsed to be checked,
/// which costs about what the escape did; so [`Envelope`] serializes as serde_json's own
/// `RawValue` does, through its token, and a unit test fails should a serde_json release change
/// that (the `raw_value` feature must be on, Cargo.toml).
struct Envelope(String);

/// The name serde_json's `RawValue` serializes under (serde_json's `raw::TOKEN`).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl Envelope {
    fn of(response: Response<Reply>) -> Self {
        let (parts, reply) = response.into_parts();
        let body_len = match &reply {
            Reply::Json(text) => text.len() + text.len() / 8,
            Reply::Escaped(escaped) => escaped.encoded_len(),
        };
        // The fields around the body are written as bytes (serde_json writes into bytes) and
        // checked as UTF-8, a few hundred of them; the body, already a `str`, is not checked
        // again (a pass over the whole answer).
        let mut head = Vec::with_capacity(512);
        head.extend_from_slice(b"{\"statusCode\":");
        head.extend_from_slice(parts.status.as_str().as_bytes());
        head.extend_from_slice(b",\"headers\":");
        let cookies = write_headers(&mut head, &parts.headers);
        head.extend_from_slice(b",\"multiValueHeaders\":{},\"body\":");
        let mut tail = Vec::with_capacity(64);
        tail.extend_from_slice(b",\"isBase64Encoded\":false,\"cookies\":");
        write_json(&mut tail, &cookies);
        tail.push(b'}');
        // Only UTF-8 went in: serde_json's output and ASCII.
        let (head, tail) = (
            String::from_utf8(head).unwrap_or_default(),
            String::from_utf8(tail).unwrap_or_default(),
        );
        let mut document = String::with_capacity(head.len() + body_len + tail.len());
        document.push_str(&head);
        match &reply {
            Reply::Json(text) => {
                document.push_str(&serde_json::to_string(text).unwrap_or_default())
            }
            Reply::Escaped(escaped) => {
                document.push('"');
                document.push_str(escaped.as_str());
                document.push('"');
            }
        }
        document.push_str(&tail);
        Self(document)
    }

    #[cfg(test)]
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0.as_str())?;
        raw.end()
    }
}

/// The headers as HTTP API's response has them, one value per name, as a JSON object; returns
/// `Set-Cookie`'s values, which go in its `cookies` instead: as lambda_http moves them.
fn write_headers(document: &mut Vec<u8>, headers: &HeaderMap) -> Vec<String> {
    let mut cookies = Vec::new();
    let mut separator = b'{';
    for name in headers.keys() {
        if name == header::SET_COOKIE {
            cookies.extend(
                headers
                    .get_all(name)
                    .iter()
                    .map(|value| value.to_str().unwrap_or_default().to_owned()),
            );
            continue;
        }
        document.push(separator);
        separator = b',';
        write_json(document, name.as_str());
        document.push(b':');
        write_json(document, &String::from_utf8_lossy(headers[name].as_bytes()));
    }
    if separator == b'{' {
        document.push(separator);
    }
    document.push(b'}');
    cookies
}

/// Small values into the document; writing JSON into memory cannot fail.
fn write_json(document: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    let _ = serde_json::to_writer(document, value);
}

/// The app as the environment configures it. A bad setting is one log line naming the
/// variable (never its value), and the process exits: a runtime loop without a configuration
/// would only fail every request.
fn app_from_env() -> App {
    match Config::from_env() {
        Ok(config) => App::new(config),
        Err(error) => {
            tracing::error!(%error, "cannot start: invalid configuration");
            std::process::exit(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
    use lambda_http::http::StatusCode;

    use super::*;
    use crate::view::{self, BookingList};

    /// What lambda_http sends for `response` from an HTTP API event: its `LambdaResponse`'s
    /// conversion, field by field, serialized as lambda_runtime does.
    fn lambda_http_document(response: Response<Reply>) -> String {
        let (parts, reply) = response.into_parts();
        let mut headers = parts.headers;
        let cookies = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().ok().unwrap_or_default().to_string())
            .collect();
        headers.remove(header::SET_COOKIE);
        let mut expected = ApiGatewayV2httpResponse::default();
        expected.status_code = i64::from(parts.status.as_u16());
        expected.headers = headers;
        expected.multi_value_headers = HeaderMap::new();
        expected.body = Some(reply.into_body());
        expected.is_base64_encoded = false;
        expected.cookies = cookies;
        String::from_utf8(serde_json::to_vec(&expected).unwrap()).unwrap()
    }

    fn answers() -> Vec<Response<Reply>> {
        let list = view::render(&BookingList::new(&[], 2, 50, 0)).unwrap();
        let ok = Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(Reply::Escaped(list))
            .unwrap();
        let problem = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .header(header::WWW_AUTHENTICATE, "Bearer")
            .body(Reply::Json(
                r#"{"type":"tag:x","title":"a \"quoted\" \\ title","detail":"line\nbreak"}"#.into(),
            ))
            .unwrap();
        let empty = Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Reply::Json(String::new()))
            .unwrap();
        // Not what the app sends, but what lambda_http would do with it: one value per name,
        // cookies apart.
        let cookies = Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET")
            .header(header::VARY, "origin")
            .header(header::VARY, "accept")
            .header(header::SET_COOKIE, "a=1")
            .header(header::SET_COOKIE, "b=2; Secure")
            .body(Reply::Json("{}".into()))
            .unwrap();
        vec![ok, problem, empty, cookies]
    }

    #[test]
    fn the_document_is_the_one_lambda_http_would_send() {
        let expected: Vec<String> = answers().into_iter().map(lambda_http_document).collect();
        let written: Vec<String> = answers()
            .into_iter()
            .map(|answer| Envelope::of(answer).as_str().to_owned())
            .collect();
        assert_eq!(written, expected);
        // The list's body arrives as its JSON text.
        let document: serde_json::Value = serde_json::from_str(&written[0]).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(document["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["page_number"], 2);
    }

    /// lambda_runtime serializes the handler's answer with serde_json: the document must come
    /// out as written, not as a string or a struct.
    #[test]
    fn serde_json_sends_the_document_as_it_is() {
        for answer in answers() {
            let envelope = Envelope::of(answer);
            assert_eq!(
                serde_json::to_vec(&envelope).unwrap(),
                envelope.as_str().as_bytes()
            );
        }
    }

    #[test]
    fn a_request_is_made_as_lambda_http_makes_it() {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "GET /bookings",
            "rawPath": "/bookings",
            "rawQueryString": "page_size=5&page_size=6",
            "headers": {"accept": "application/json"},
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x",
                "http": {"method": "GET", "path": "/bookings", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "t"},
                "requestId": "r-1", "routeKey": "GET /bookings", "stage": "$default",
                "time": "04/Dec/2026:20:00:00 +0000", "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        let payload: LambdaRequest = serde_json::from_value(event.clone()).unwrap();
        let mut context = lambda_runtime::Context::default();
        context.request_id = "lambda-1".into();
        context.xray_trace_id = Some("Root=1-abc".into());
        let request = request_of(LambdaEvent { payload, context });
        assert_eq!(request.uri().path(), "/bookings");
        assert_eq!(request.headers()["x-amzn-trace-id"], "Root=1-abc");
        assert_eq!(request.lambda_context_ref().unwrap().request_id, "lambda-1");
        let sizes: Vec<&str> = request
            .query_string_parameters_ref()
            .unwrap()
            .all("page_size")
            .unwrap();
        assert_eq!(sizes, ["5", "6"]);
    }
}
