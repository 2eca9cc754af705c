//! OmniLab's booking, typed as the reference page describes it.
//!
//! Field names are OmniLab's own, so what we answer reads like the reference page.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One page of `fetchContactBookings`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct BookingPage {
    /// A contact may have no bookings; OmniLab may then omit the array.
    #[serde(default)]
    pub bookings: Vec<Booking>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_count: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Booking {
    pub activity: Activity,
    pub interaction: Interaction,
    pub group: Group,
    /// Read and written by [`crate::rfc3339`]: jiff's results, faster for OmniLab's usual form.
    #[serde(with = "crate::rfc3339")]
    pub slot_starting_at: Timestamp,
    /// Omitted when the slot has no set duration: never defaulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_duration_in_minutes: Option<u32>,
    pub booking_status: BookingStatus,
    #[serde(with = "crate::rfc3339")]
    pub booked_at: Timestamp,
    pub ticket_type: TicketType,
    /// Present only when the activity offers a choice of hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    /// The booking's UUID, exactly as OmniLab wants it back.
    pub booking: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Activity {
    /// The touchpoint id: unique within a campaign, not across campaigns.
    pub id: String,
    /// Localized; may arrive as a language map serialized into the string (see [`crate::view`]).
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_hint: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Interaction {
    pub public_key: String,
    /// An IANA name such as `Europe/London`, not an offset.
    pub timezone: String,
}

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

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BookingStatus {
    Confirmed,
    Waitlist,
    Cancelled,
}

impl BookingStatus {
    pub const ALL: [Self; 3] = [Self::Confirmed, Self::Waitlist, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Waitlist => "WAITLIST",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_example() {
        let page: BookingPage = serde_json::from_str(
            r#"{
              "bookings": [{
                "activity": {"id": "b8b2a0e2-1f3c-4a7d-9c52-0c8f2d1a6e44", "title": "Santa Photo Experience",
                             "location_hint": "Level 1, near the fountain"},
                "interaction": {"public_key": "winter-festival", "timezone": "Europe/London"},
                "group": {"unique_key": "example-brand", "display_name": "Example Brand"},
                "slot_starting_at": "2024-12-10T12:30:00Z",
                "slot_duration_in_minutes": 30,
                "booking_status": "CONFIRMED",
                "booked_at": "2024-12-01T09:15:00Z",
                "ticket_type": {"display_name": "Standard entry", "has_limited_capacity": true},
                "host": {"display_name": "Photo Station 2"},
                "booking": "2394d604-afcc-4f7f-98c1-ef3676c20d6b"
              }],
              "page_number": 1, "page_size": 50, "total_count": 1
            }"#,
        )
        .unwrap();
        let booking = &page.bookings[0];
        assert_eq!(booking.slot_duration_in_minutes, Some(30));
        assert_eq!(booking.booking_status, BookingStatus::Confirmed);
        assert_eq!(booking.slot_starting_at.to_string(), "2024-12-10T12:30:00Z");
        assert_eq!(page.total_count, 1);
    }

    #[test]
    fn an_omitted_duration_stays_omitted() {
        let booking: Booking = serde_json::from_value(serde_json::json!({
            "activity": {"id": "a", "title": "t"},
            "interaction": {"public_key": "p", "timezone": "Europe/Paris"},
            "group": {"unique_key": "g", "display_name": "G"},
            "slot_starting_at": "2024-12-10T12:30:00Z",
            "booking_status": "WAITLIST",
            "booked_at": "2024-12-01T09:15:00Z",
            "ticket_type": {"display_name": "x", "has_limited_capacity": false},
            "booking": "2394d604-afcc-4f7f-98c1-ef3676c20d6b"
        }))
        .unwrap();
        assert_eq!(booking.slot_duration_in_minutes, None);
        let back = serde_json::to_value(&booking).unwrap();
        assert!(back.get("slot_duration_in_minutes").is_none());
        assert!(back.get("host").is_none());
    }

    #[test]
    fn statuses_round_trip() {
        for status in BookingStatus::ALL {
            assert_eq!(BookingStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(BookingStatus::parse("confirmed"), None);
    }
}
