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
//! The rest comes from events people logged from deployed APIs:
//!
//! | claim in the token | in the event | seen in |
//! |---|---|---|
//! | `"abc"` | `"abc"` | every capture |
//! | `1718722804` | `"1718722804"`, the digits as sent | the fixture `tests/fixtures/apigw-jwt-event.json`, a real event beside its real token (its README says where both were published) |
//! | `["a", "b"]` | `"[a b]"`: space-separated, no quotes | Entra ID groups through an HTTP API, logged in [guidance-for-claude-code-with-amazon-bedrock#802](https://github.com/aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock/issues/802) |
//! | `null` | no claim at all | [floci-io/floci#2011](https://github.com/floci-io/floci/pull/2011), an emulator matched to measured events |
//! | `true` | `"true"` | inferred: the form of a number |
//! | `{"tier": 2}` | `"map[tier:2]"`, keys sorted | inferred: the array form is Go's `%v`, and this is Go's `%v` of a map; no capture found |
//!
//! `scopes` beside the claims is `null` on a route without authorization scopes (the fixture;
//! aws/aws-lambda-go#317), an array on a route with them (aws/serverless-java-container#407).

use serde_json::{Map, Value};

/// Every claim of `claims` as the string API Gateway puts in the event.
pub fn as_event_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .filter(|(_, value)| !value.is_null())
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
        // Only inside an array or a map (a null claim is dropped): Go's `%v` of nil.
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

    /// The real token's claims, through us, are the real event's claims.
    #[test]
    fn a_real_tokens_claims_become_the_real_events() {
        let event: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/apigw-jwt-event.json"))
                .expect("the fixture is JSON");
        let payload = include_str!("../../../tests/fixtures/apigw-jwt-event.token-payload");
        let decoded = crate::authorizer::base64url_decode(payload.trim()).expect("base64url");
        let token_claims: Map<String, Value> =
            serde_json::from_slice(&decoded).expect("the token's claims are JSON");
        assert!(token_claims["exp"].is_number(), "the token carries numbers");
        assert_eq!(
            Value::Object(as_event_claims(&token_claims)),
            event["requestContext"]["authorizer"]["jwt"]["claims"]
        );
        assert_eq!(
            event["requestContext"]["authorizer"]["jwt"]["scopes"],
            Value::Null
        );
    }

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
                "empty": "[]",
            })
        );
    }
}
