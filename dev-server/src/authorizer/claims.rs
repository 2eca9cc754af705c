//! A verified token's claims as API Gateway hands them to a function: in a payload 2.0 event's
//! `requestContext.authorizer.jwt.claims`, every value is a string.
//!
//! # The format
//!
//! AWS documents only that claims are passed on
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>,
//! "API Gateway passes the claims in the token to the API route's integration") and shows them as
//! strings in its payload 2.0 sample
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>).
//! What a real event holds comes from events people logged from deployed APIs (the fixture
//! `tests/fixtures/apigw-jwt-event.json` and its README say where it was captured):
//!
//! | claim in the token | in the event |
//! |---|---|
//! | `"abc"` | `"abc"` |
//! | `1733749200` | `"1733749200"` (the number's own digits) |
//! | `true` | `"true"` |
//! | `["admin", "users"]` | `"[admin users]"` (Go's `fmt` form: space-separated, no quotes) |
//! | `{"tier": 2}` | `"map[tier:2]"` (the same form for a map, keys sorted) |
//! | `null` | `"<nil>"` |
//!
//! The bracketed forms are Go's `%v`, which is how the authorizer prints what it decoded; the
//! numbers are not (Go would print a float64 `1.7337492e+09`): events show the digits as sent.

use serde_json::{Map, Value};

/// Every claim of `claims` as the string API Gateway puts in the event.
pub fn as_event_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(as_text(value))))
        .collect()
}

/// One claim's value as text.
pub fn as_text(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("<nil>"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write(&map[key], out);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_claim_becomes_the_text_api_gateway_sends() {
        let claims = json!({
            "sub": "9b33d8c1",
            "exp": 1733749200,
            "auth_time": 1733745600.5,
            "email_verified": true,
            "cognito:groups": ["admin", "users"],
            "aud": ["bookings"],
            "address": {"locality": "Paris", "country": "FR"},
            "nothing": null,
            "empty": [],
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(as_event_claims(&claims)),
            json!({
                "sub": "9b33d8c1",
                "exp": "1733749200",
                "auth_time": "1733745600.5",
                "email_verified": "true",
                "cognito:groups": "[admin users]",
                "aud": "[bookings]",
                "address": "map[country:FR locality:Paris]",
                "nothing": "<nil>",
                "empty": "[]",
            })
        );
    }
}
