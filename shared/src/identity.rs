//! The signed-in customer, as API Gateway's JWT authorizer vouches for them.
//!
//! The authorizer has already checked the token's signature, issuer, audience and expiry; we
//! only read the one claim that carries the customer's external ID. Nothing in the query, path
//! or body can change who the caller is.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::omnilab::ExternalId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the request carries no `{claim}` claim from the JWT authorizer")]
    MissingClaim { claim: String },
    #[error("the `{claim}` claim is not a usable external ID")]
    InvalidClaim { claim: String },
}

/// Reads the caller's external ID from the authorizer's claims on an HTTP API (payload 2.0) request.
pub fn customer(request: &Request, claim: &str) -> Result<ExternalId, IdentityError> {
    let value = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get(claim)),
        _ => None,
    };
    let value = value.ok_or_else(|| IdentityError::MissingClaim {
        claim: claim.to_owned(),
    })?;
    // Refused, never trimmed: an id with stray spaces, control or invisible characters is not
    // the one the brand stored (or looks like another id when shown), and passing it on would
    // ask OmniLab about somebody else, or nobody.
    let usable = !value.is_empty()
        && value.trim() == value
        && value.len() <= 256
        && !value.chars().any(|c| c.is_control() || invisible(c));
    if usable {
        Ok(ExternalId::new(value.clone()))
    } else {
        Err(IdentityError::InvalidClaim {
            claim: claim.to_owned(),
        })
    }
}

/// Characters that show nothing or reorder what follows: Unicode's default-ignorable code
/// points (zero-width spaces and joiners, invisible operators, variation selectors, tags), the
/// bidirectional marks, embeddings, overrides and isolates, and the line and paragraph
/// separators. In an id they hide one id inside another, or reverse it on screen and in logs.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_claims(claims: serde_json::Value) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "GET /bookings",
            "rawPath": "/bookings",
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                "domainPrefix": "api", "requestId": "id", "routeKey": "GET /bookings", "stage": "$default",
                "time": "10/Dec/2024:12:30:00 +0000", "timeEpoch": 1733833800000i64,
                "http": {"method": "GET", "path": "/bookings", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "test"},
                "authorizer": {"jwt": {"claims": claims, "scopes": null}}
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn reads_the_configured_claim() {
        let request = request_with_claims(
            serde_json::json!({"sub": "abc", "custom:external_id": "9b33d8c1"}),
        );
        assert_eq!(customer(&request, "sub").unwrap().as_str(), "abc");
        assert_eq!(
            customer(&request, "custom:external_id").unwrap().as_str(),
            "9b33d8c1"
        );
        // Visible letters of any script are an id like any other.
        for visible in ["élodie-1", "顧客-42", "user@example.com"] {
            let request = request_with_claims(serde_json::json!({ "sub": visible }));
            assert_eq!(customer(&request, "sub").unwrap().as_str(), visible);
        }
    }

    #[test]
    fn no_claim_is_no_identity() {
        let request = request_with_claims(serde_json::json!({"email": "a@example.com"}));
        assert_eq!(
            customer(&request, "sub"),
            Err(IdentityError::MissingClaim {
                claim: "sub".into()
            })
        );
        let blank = request_with_claims(serde_json::json!({"sub": "  "}));
        assert!(matches!(
            customer(&blank, "sub"),
            Err(IdentityError::InvalidClaim { .. })
        ));
    }

    #[test]
    fn a_claim_with_stray_whitespace_or_control_characters_is_refused() {
        for value in [
            " abc",
            "abc ",
            "abc\n",
            "\tabc",
            "a\u{0}bc",
            "a\u{1b}[2Jbc",
            "",
            // Invisible and bidirectional characters.
            "abc\u{200B}",
            "a\u{200D}bc",
            "\u{202E}cba",
            "abc\u{2066}",
            "a\u{FEFF}bc",
            "a\u{00AD}bc",
            "abc\u{E0041}",
            "a\u{2028}bc",
        ] {
            let request = request_with_claims(serde_json::json!({ "sub": value }));
            assert!(
                matches!(
                    customer(&request, "sub"),
                    Err(IdentityError::InvalidClaim { .. })
                ),
                "{value:?}"
            );
        }
    }
}
