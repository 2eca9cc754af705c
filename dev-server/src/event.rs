//! Wraps a local HTTP request as the API Gateway HTTP API (payload 2.0) event Lambda would
//! receive, claims included, and decodes it with lambda_http's own decoder: the handlers see
//! exactly what they see on AWS.

use axum::http::Method;
use bookings::Route;
use lambda_http::Request;
use serde_json::json;

pub fn http_api_request(
    route: Route,
    method: &Method,
    path: &str,
    query: &str,
    claim: &str,
    customer: &str,
) -> Result<Request, serde_json::Error> {
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": path,
        "rawQueryString": query,
        "headers": {},
        "requestContext": {
            "accountId": "local",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "requestId": "local",
            "routeKey": route.key(),
            "stage": "$default",
            "time": "",
            "timeEpoch": 0,
            "http": {"method": method.as_str(), "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "dev-server"},
            "authorizer": {"jwt": {"claims": {claim: customer}, "scopes": null}}
        },
        "isBase64Encoded": false
    });
    if let Some(booking) = path
        .strip_prefix("/bookings/")
        .and_then(|p| p.strip_suffix("/cancel"))
    {
        event["pathParameters"] = json!({ "booking": booking });
    }
    lambda_http::request::from_str(&event.to_string())
}
