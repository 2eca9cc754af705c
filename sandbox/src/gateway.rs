//! The local stand-in for API Gateway: the HTTP API (payload format 2.0) event that the JWT
//! authorizer hands our functions, claims included, built the one way the tests, the fuzz
//! target, the benchmark and the dev server all use.
//!
//! ```text
//! let event = gateway::Event::new("GET", "/bookings")
//!     .query("booking_status=CONFIRMED")
//!     .customer(DEMO_CUSTOMER)
//!     .json();
//! ```
//!
//! Every field can be made odd, as the fuzz target needs: any method, path, raw query string,
//! route key, header, cookie, path parameter, claim set, stage or body (base64 or not).

use lambda_http::Request;
use serde_json::{Value, json};

/// The custom domain the default event was sent to.
pub const DOMAIN: &str = "api.example-brand.com";

/// One HTTP API (payload 2.0) event, as API Gateway delivers it for our stack: from `new`'s
/// defaults (a request to [`DOMAIN`] on the `$default` stage, nobody signed in) to what the
/// setters change. [`Event::json`] gives the event, [`Event::request`] what lambda_http makes
/// of it.
#[derive(Clone, Debug)]
#[must_use]
pub struct Event(Value);

impl Event {
    /// `method path`, with the route key and the `{booking}` path parameter API Gateway sets
    /// when our routes match (`template.yaml`): `POST /bookings/{booking}/cancel` for a path
    /// ending in `/cancel`, else `GET /bookings`, whatever the method.
    pub fn new(method: &str, path: &str) -> Self {
        let route_key = if path.ends_with("/cancel") {
            "POST /bookings/{booking}/cancel"
        } else {
            "GET /bookings"
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"accept": "application/json", "host": DOMAIN},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bookings",
                "domainName": DOMAIN,
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
        Self(event)
    }

    /// The raw query string, exactly as sent (no `?`; percent-encoded or not).
    pub fn query(mut self, raw: &str) -> Self {
        self.0["rawQueryString"] = raw.into();
        self
    }

    /// `queryStringParameters`, which API Gateway sends beside the raw string (lambda_http
    /// reads the raw string when there is one).
    pub fn query_string_parameters(mut self, parameters: Value) -> Self {
        self.0["queryStringParameters"] = parameters;
        self
    }

    /// The route key API Gateway matched, in the event and in its request context.
    pub fn route_key(mut self, key: &str) -> Self {
        self.0["routeKey"] = key.into();
        self.0["requestContext"]["routeKey"] = key.into();
        self
    }

    /// Sets a path parameter (`booking` replaces the one `new` took from the path).
    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        if !self.0["pathParameters"].is_object() {
            self.0["pathParameters"] = json!({});
        }
        self.0["pathParameters"][name] = value.into();
        self
    }

    /// Sets a header; API Gateway delivers header names in lower case.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0["headers"][name.to_ascii_lowercase()] = value.into();
        self
    }

    /// Removes a header, `host` included (lambda_http then takes the request context's domain).
    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(headers) = self.0["headers"].as_object_mut() {
            headers.remove(&name.to_ascii_lowercase());
        }
        self
    }

    /// Adds one cookie (`name=value`) to the event's `cookies`.
    pub fn cookie(mut self, cookie: &str) -> Self {
        if !self.0["cookies"].is_array() {
            self.0["cookies"] = json!([]);
        }
        if let Some(cookies) = self.0["cookies"].as_array_mut() {
            cookies.push(cookie.into());
        }
        self
    }

    /// Sets `cookies` to exactly these, none included (an empty array).
    pub fn cookies<S: AsRef<str>>(mut self, cookies: impl IntoIterator<Item = S>) -> Self {
        self.0["cookies"] = cookies
            .into_iter()
            .map(|c| Value::from(c.as_ref()))
            .collect();
        self
    }

    /// Signed in: the JWT authorizer's verified claims, exactly these (any JSON, `{}` included).
    pub fn claims(mut self, claims: Value) -> Self {
        self.0["requestContext"]["authorizer"] =
            json!({ "jwt": { "claims": claims, "scopes": null } });
        self
    }

    /// Signed in: the authorizer's `jwt` object, claims (each a string, as API Gateway writes
    /// them) and the token's scopes on a route that has scopes (`None`: `null`).
    pub fn authorizer(mut self, claims: Value, scopes: Option<Vec<String>>) -> Self {
        self.0["requestContext"]["authorizer"] =
            json!({ "jwt": { "claims": claims, "scopes": scopes } });
        self
    }

    /// Signed in as the customer whose external ID is `external_id`, in `sub`, with the other
    /// claims of the brand's identity provider.
    pub fn customer(self, external_id: &str) -> Self {
        self.claims(json!({
            "sub": external_id,
            "iss": "https://auth.example-brand.com/",
            "aud": "bookings",
            "exp": "1733749200"
        }))
    }

    /// Adds one claim (signing in with only that claim when nobody was).
    pub fn claim(mut self, name: &str, value: &str) -> Self {
        let claims = &mut self.0["requestContext"]["authorizer"]["jwt"]["claims"];
        if !claims.is_object() {
            return self.claims(json!({ name: value }));
        }
        claims[name] = value.into();
        self
    }

    /// A plain-text body.
    pub fn body(mut self, text: &str) -> Self {
        self.0["body"] = text.into();
        self.0["isBase64Encoded"] = false.into();
        self
    }

    /// A body that the event says is base64: `encoded` is sent as given, valid base64 or not.
    pub fn base64_body(mut self, encoded: &str) -> Self {
        self.0["body"] = encoded.into();
        self.0["isBase64Encoded"] = true.into();
        self
    }

    /// The API Gateway stage (`$default` unless set; lambda_http strips a named stage from the
    /// path).
    pub fn stage(mut self, stage: &str) -> Self {
        self.0["requestContext"]["stage"] = stage.into();
        self
    }

    /// The domain the request was sent to: the request context's and the `host` header.
    pub fn domain(mut self, name: &str) -> Self {
        let prefix = name.split('.').next().unwrap_or_default();
        self.0["requestContext"]["domainName"] = name.into();
        self.0["requestContext"]["domainPrefix"] = prefix.into();
        self.header("host", name)
    }

    pub fn request_id(mut self, id: &str) -> Self {
        self.0["requestContext"]["requestId"] = id.into();
        self
    }

    /// Who sent it: the client's address and `User-Agent`, as the request context records them.
    pub fn source(mut self, ip: &str, user_agent: &str) -> Self {
        self.0["requestContext"]["http"]["sourceIp"] = ip.into();
        self.0["requestContext"]["http"]["userAgent"] = user_agent.into();
        self
    }

    /// The event JSON, as the Lambda runtime hands it to a function.
    pub fn json(self) -> Value {
        self.0
    }

    /// What lambda_http makes of the event, as in Lambda. lambda_http itself panics on some
    /// hostile events (an invalid URI, an unparsable host); those panics are not caught here.
    pub fn try_request(self) -> Result<Request, serde_json::Error> {
        lambda_http::request::from_str(&self.0.to_string())
    }

    /// [`Event::try_request`], for an event known to be valid: panics if lambda_http refuses it.
    pub fn request(self) -> Request {
        self.try_request()
            .expect("an HTTP API event that lambda_http decodes")
    }
}

impl From<Event> for Value {
    fn from(event: Event) -> Self {
        event.0
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;

    use super::*;

    #[test]
    fn a_cancel_carries_its_route_key_path_parameter_and_claims() {
        let request = Event::new("POST", "/bookings/abc/cancel")
            .query("x=1")
            .customer("someone")
            .claim("custom:external_id", "else")
            .request();
        assert_eq!(request.method(), "POST");
        assert_eq!(
            request.uri().to_string(),
            format!("https://{DOMAIN}/bookings/abc/cancel?x=1")
        );
        assert_eq!(request.path_parameters().first("booking"), Some("abc"));
        let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
            panic!("an HTTP API request context");
        };
        assert_eq!(
            context.route_key.as_deref(),
            Some("POST /bookings/{booking}/cancel")
        );
        let claims = &context
            .authorizer
            .as_ref()
            .unwrap()
            .jwt
            .as_ref()
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "someone");
        assert_eq!(claims["custom:external_id"], "else");
    }

    #[test]
    fn nobody_is_signed_in_by_default_and_every_field_can_be_changed() {
        let event = Event::new("GET", "/bookings").json();
        assert!(event["requestContext"].get("authorizer").is_none());
        assert!(event.get("pathParameters").is_none());

        let event = Event::new("PUT", "/x")
            .route_key("POST /bookings/{booking}/cancel")
            .path_parameter("booking", "y")
            .without_header("host")
            .header("Cookie", "a=b")
            .cookies(Vec::<String>::new())
            .claim("sub", "z")
            .base64_body("!!")
            .stage("prod")
            .request_id("r")
            .source("127.0.0.1", "ua")
            .json();
        assert_eq!(event["routeKey"], event["requestContext"]["routeKey"]);
        assert_eq!(event["pathParameters"], json!({"booking": "y"}));
        assert_eq!(
            event["headers"],
            json!({"accept": "application/json", "cookie": "a=b"})
        );
        assert_eq!(event["cookies"], json!([]));
        assert_eq!(
            event["requestContext"]["authorizer"]["jwt"]["claims"],
            json!({"sub": "z"})
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["requestContext"]["stage"], "prod");
    }

    #[test]
    fn a_domain_is_the_host_too() {
        let event = Event::new("GET", "/bookings").domain("127.0.0.1").json();
        assert_eq!(event["headers"]["host"], "127.0.0.1");
        assert_eq!(event["requestContext"]["domainName"], "127.0.0.1");
    }
}
