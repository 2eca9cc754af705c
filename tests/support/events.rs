//! API Gateway HTTP API (payload 2.0) events, as the JWT authorizer hands them to Lambda.

use lambda_http::Request;
use serde_json::{Value, json};

/// The event JSON for `method path?query`, signed in as `customer` (or not signed in).
pub fn http_api_event(method: &str, path: &str, query: &str, customer: Option<&str>) -> Value {
    let route_key = if path.ends_with("/cancel") {
        "POST /bookings/{booking}/cancel"
    } else {
        "GET /bookings"
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"accept": "application/json", "host": "api.example-brand.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bookings",
            "domainName": "api.example-brand.com",
            "domainPrefix": "api",
            "requestId": "req-1",
            "routeKey": route_key,
            "stage": "$default",
            "time": "09/Dec/2024:12:00:00 +0000",
            "timeEpoch": 1733745600000i64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "test"}
        },
        "isBase64Encoded": false
    });
    if let Some(booking) = path
        .strip_prefix("/bookings/")
        .and_then(|p| p.strip_suffix("/cancel"))
    {
        event["pathParameters"] = json!({ "booking": booking });
    }
    if let Some(customer) = customer {
        event["requestContext"]["authorizer"] = json!({
            "jwt": {
                "claims": {
                    "sub": customer,
                    "iss": "https://auth.example-brand.com/",
                    "aud": "bookings",
                    "exp": "1733749200"
                },
                "scopes": null
            }
        });
    }
    event
}

pub fn http_api(method: &str, path: &str, query: &str, customer: Option<&str>) -> Request {
    let event = http_api_event(method, path, query, customer);
    lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API event")
}
