//! OmniLab's wire format, typed here from the reference page (`omnilab-booking-api.txt`) and
//! nowhere else: the sandbox never uses the product's model (`bookings::model`), so a test that
//! passes shows that the product reads what OmniLab sends, not what the product itself would.
//!
//! Field names and their order are the reference page's.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `POST /v1/oauth:token` expects: the client-credentials flow.
///
/// A missing field reads as empty, so that it is refused as a wrong credential (or grant type),
/// as OmniLab would, rather than as a malformed body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct TokenRequest {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub audience: String,
    /// Always `client_credentials`.
    #[serde(default)]
    pub grant_type: String,
}

impl TokenRequest {
    /// The request a backend holding `credentials` sends.
    pub fn for_credentials(credentials: &ClientCredentials) -> Self {
        Self {
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            audience: credentials.audience.clone(),
            grant_type: "client_credentials".into(),
        }
    }
}

/// The token endpoint's answer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct TokenAnswer {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// The token's lifetime in seconds. Any JSON value, so that a test can make it odd
    /// ([`crate::Sandbox::set_expires_in`]).
    pub expires_in: Value,
}

/// The client credentials a tenant gets from its Customer Success Manager.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub audience: String,
}

/// One page of `GET /v1/interactions:fetchContactBookings`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct BookingPage {
    pub bookings: Vec<Booking>,
    pub page_number: u32,
    pub page_size: u32,
    /// Total bookings matching the filters, over every page.
    pub total_count: u64,
}

/// One booking in `bookings`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Booking {
    pub activity: Activity,
    pub interaction: Interaction,
    pub group: Group,
    /// RFC 3339 in UTC, ending in `Z`.
    pub slot_starting_at: Timestamp,
    /// Omitted when the slot has no set duration (never defaulted to 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_duration_in_minutes: Option<u32>,
    pub booking_status: BookingStatus,
    /// The time of the current status (confirmation, waitlist or cancellation), RFC 3339 in UTC.
    pub booked_at: Timestamp,
    pub ticket_type: TicketType,
    /// Only when the activity offers a choice of hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    /// The booking's UUID, to pass back to the cancel endpoint as is.
    pub booking: String,
}

/// The booked touchpoint.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Activity {
    /// Unique within a campaign, not across campaigns.
    pub id: String,
    /// Localized; where the resolved language has no text, the raw language map as a string.
    pub title: String,
    /// Localized, like `title`.
    pub location_hint: String,
}

/// The campaign.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Interaction {
    pub public_key: String,
    /// An IANA name (`Europe/London`), not an offset.
    pub timezone: String,
}

/// The collection the campaign belongs to.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Group {
    pub unique_key: String,
    pub display_name: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct TicketType {
    pub display_name: String,
    pub has_limited_capacity: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Host {
    pub display_name: String,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BookingStatus {
    Confirmed,
    Waitlist,
    Cancelled,
}

impl BookingStatus {
    /// As in a `booking_status` query parameter: exactly `CONFIRMED`, `WAITLIST` or `CANCELLED`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CONFIRMED" => Some(Self::Confirmed),
            "WAITLIST" => Some(Self::Waitlist),
            "CANCELLED" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// What `POST /v1/interactions:cancelInteractionBooking` expects.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct CancelRequest {
    /// Exactly as `fetchContactBookings` returned it.
    pub booking: String,
}

/// A successful cancellation: an empty JSON object.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct CancelAnswer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example_round_trips_byte_for_byte() {
        let example = r#"{"bookings":[{"activity":{"id":"b8b2a0e2-1f3c-4a7d-9c52-0c8f2d1a6e44","title":"Santa Photo Experience","location_hint":"Level 1, near the fountain"},"interaction":{"public_key":"winter-festival","timezone":"Europe/London"},"group":{"unique_key":"example-brand","display_name":"Example Brand"},"slot_starting_at":"2024-12-10T12:30:00Z","slot_duration_in_minutes":30,"booking_status":"CONFIRMED","booked_at":"2024-12-01T09:15:00Z","ticket_type":{"display_name":"Standard entry","has_limited_capacity":true},"host":{"display_name":"Photo Station 2"},"booking":"2394d604-afcc-4f7f-98c1-ef3676c20d6b"}],"page_number":1,"page_size":50,"total_count":1}"#;
        let page: BookingPage = serde_json::from_str(example).unwrap();
        assert_eq!(serde_json::to_string(&page).unwrap(), example);
    }

    #[test]
    fn no_duration_and_no_host_are_omitted() {
        let mut page: BookingPage = serde_json::from_str(
            r#"{"bookings":[{"activity":{"id":"a","title":"t","location_hint":"l"},"interaction":{"public_key":"p","timezone":"Europe/Paris"},"group":{"unique_key":"g","display_name":"G"},"slot_starting_at":"2024-12-10T12:30:00Z","booking_status":"WAITLIST","booked_at":"2024-12-01T09:15:00Z","ticket_type":{"display_name":"x","has_limited_capacity":false},"booking":"b"}],"page_number":1,"page_size":50,"total_count":1}"#,
        )
        .unwrap();
        let booking = page.bookings.remove(0);
        assert_eq!(booking.slot_duration_in_minutes, None);
        let json = serde_json::to_value(&booking).unwrap();
        assert!(json.get("slot_duration_in_minutes").is_none());
        assert!(json.get("host").is_none());
    }

    #[test]
    fn the_token_exchange_and_the_cancel_are_the_reference_pages() {
        let request = TokenRequest::for_credentials(&ClientCredentials {
            client_id: "YOUR_CLIENT_ID".into(),
            client_secret: "YOUR_CLIENT_SECRET".into(),
            audience: "YOUR_AUDIENCE".into(),
        });
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"client_id": "YOUR_CLIENT_ID", "client_secret": "YOUR_CLIENT_SECRET",
                               "audience": "YOUR_AUDIENCE", "grant_type": "client_credentials"})
        );
        assert_eq!(serde_json::to_string(&CancelAnswer {}).unwrap(), "{}");
        for status in ["CONFIRMED", "WAITLIST", "CANCELLED"] {
            let parsed = BookingStatus::parse(status).unwrap();
            assert_eq!(serde_json::to_value(parsed).unwrap(), status);
        }
        assert_eq!(BookingStatus::parse("confirmed"), None);
    }
}
