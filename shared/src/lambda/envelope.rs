//! The response document: an answer as the Runtime API takes it for API Gateway's HTTP API
//! (payload format 2.0).
//!
//! # Why written here
//!
//! It is the JSON document lambda_http's `ApiGatewayV2httpResponse` serializes to, field for
//! field and in its order (a unit test compares the two), written as bytes: the list's body is
//! already escaped ([`crate::escaped::Escaped`]), so the document is a copy of it between a few
//! fields, where serializing lambda_http's type would escape the whole body once more (what that
//! cost: docs/performance.md, "One escape instead of two"). Our runtime loop posts these bytes
//! as they are.

use lambda_http::Response;
use lambda_http::http::{HeaderMap, header};
use serde::Serialize;

use crate::api::Reply;

/// One answer's response document, ready to post.
pub(super) struct Envelope(Vec<u8>);

impl Envelope {
    pub(super) fn of(response: Response<Reply>) -> Self {
        let (parts, reply) = response.into_parts();
        let body_len = match &reply {
            Reply::Json(text) => text.len() + text.len() / 8,
            Reply::Escaped(escaped) => escaped.encoded_len(),
        };
        let mut document = Vec::with_capacity(512 + body_len);
        document.extend_from_slice(b"{\"statusCode\":");
        document.extend_from_slice(parts.status.as_str().as_bytes());
        document.extend_from_slice(b",\"headers\":");
        let cookies = write_headers(&mut document, &parts.headers);
        document.extend_from_slice(b",\"multiValueHeaders\":{},\"body\":");
        match &reply {
            Reply::Json(text) => write_json(&mut document, text.as_str()),
            Reply::Escaped(escaped) => {
                document.push(b'"');
                document.extend_from_slice(escaped.as_str().as_bytes());
                document.push(b'"');
            }
        }
        document.extend_from_slice(b",\"isBase64Encoded\":false,\"cookies\":");
        write_json(&mut document, &cookies);
        document.push(b'}');
        Self(document)
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.0
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
                r#"{"type":"tag:x","title":"a \"quoted\" \\ title","detail":"line\nbreak é"}"#
                    .into(),
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
            .map(|answer| String::from_utf8(Envelope::of(answer).into_bytes()).unwrap())
            .collect();
        assert_eq!(written, expected);
        // The list's body arrives as its JSON text.
        let document: serde_json::Value = serde_json::from_str(&written[0]).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(document["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["page_number"], 2);
    }
}
