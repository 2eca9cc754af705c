//! OmniLab's booking, typed as the reference page describes it.
//!
//! Field names are OmniLab's own, so what we answer reads like the reference page.
//!
//! # Why the strings are borrowed
//!
//! A page's strings are read in place from OmniLab's answer, which the caller keeps while it
//! uses the page: `Cow` borrows a string that has no escapes and owns only one that does.
//! Copied into a `String` each, every string of a page was an allocation and a free per
//! request; borrowed, they are none (what that saved a warm page: docs/performance.md).
//! The paths that gather several pages make them outlive their answers with
//! [`BookingPage::into_owned`], as before.

use std::borrow::Cow;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One page of `fetchContactBookings`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct BookingPage<'a> {
    /// A contact may have no bookings; OmniLab may then omit the array.
    #[serde(default, borrow)]
    pub bookings: Vec<Booking<'a>>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_count: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Booking<'a> {
    #[serde(borrow)]
    pub activity: Activity<'a>,
    #[serde(borrow)]
    pub interaction: Interaction<'a>,
    #[serde(borrow)]
    pub group: Group<'a>,
    /// Read by [`crate::rfc3339`]: jiff's result, faster for OmniLab's usual form.
    #[serde(deserialize_with = "crate::rfc3339::deserialize")]
    pub slot_starting_at: Timestamp,
    /// Omitted when the slot has no set duration: never defaulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_duration_in_minutes: Option<u32>,
    pub booking_status: BookingStatus,
    #[serde(deserialize_with = "crate::rfc3339::deserialize")]
    pub booked_at: Timestamp,
    #[serde(borrow)]
    pub ticket_type: TicketType<'a>,
    /// Present only when the activity offers a choice of hosts.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host<'a>>,
    /// The booking's UUID, exactly as OmniLab wants it back.
    #[serde(borrow)]
    pub booking: Cow<'a, str>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Activity<'a> {
    /// The touchpoint id: unique within a campaign, not across campaigns.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Localized; may arrive as a language map serialized into the string (see [`crate::view`]).
    #[serde(borrow)]
    pub title: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub location_hint: Option<Cow<'a, str>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Interaction<'a> {
    #[serde(borrow)]
    pub public_key: Cow<'a, str>,
    /// An IANA name such as `Europe/London`, not an offset.
    #[serde(borrow)]
    pub timezone: Cow<'a, str>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Group<'a> {
    #[serde(borrow)]
    pub unique_key: Cow<'a, str>,
    #[serde(borrow)]
    pub display_name: Cow<'a, str>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct TicketType<'a> {
    #[serde(borrow)]
    pub display_name: Cow<'a, str>,
    pub has_limited_capacity: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Host<'a> {
    #[serde(borrow)]
    pub display_name: Cow<'a, str>,
}

impl BookingPage<'_> {
    /// The page with strings of its own, to outlive the answer it was read from: for the
    /// paths that gather several pages (`all=true`, the ownership check before a cancel).
    pub fn into_owned(self) -> BookingPage<'static> {
        BookingPage {
            bookings: self.bookings.into_iter().map(Booking::into_owned).collect(),
            page_number: self.page_number,
            page_size: self.page_size,
            total_count: self.total_count,
        }
    }
}

impl Booking<'_> {
    pub fn into_owned(self) -> Booking<'static> {
        let owned = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        Booking {
            activity: Activity {
                id: owned(self.activity.id),
                title: owned(self.activity.title),
                location_hint: self.activity.location_hint.map(owned),
            },
            interaction: Interaction {
                public_key: owned(self.interaction.public_key),
                timezone: owned(self.interaction.timezone),
            },
            group: Group {
                unique_key: owned(self.group.unique_key),
                display_name: owned(self.group.display_name),
            },
            slot_starting_at: self.slot_starting_at,
            slot_duration_in_minutes: self.slot_duration_in_minutes,
            booking_status: self.booking_status,
            booked_at: self.booked_at,
            ticket_type: TicketType {
                display_name: owned(self.ticket_type.display_name),
                has_limited_capacity: self.ticket_type.has_limited_capacity,
            },
            host: self.host.map(|host| Host {
                display_name: owned(host.display_name),
            }),
            booking: owned(self.booking),
        }
    }
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
        let text = serde_json::json!({
            "activity": {"id": "a", "title": "t"},
            "interaction": {"public_key": "p", "timezone": "Europe/Paris"},
            "group": {"unique_key": "g", "display_name": "G"},
            "slot_starting_at": "2024-12-10T12:30:00Z",
            "booking_status": "WAITLIST",
            "booked_at": "2024-12-01T09:15:00Z",
            "ticket_type": {"display_name": "x", "has_limited_capacity": false},
            "booking": "2394d604-afcc-4f7f-98c1-ef3676c20d6b"
        })
        .to_string();
        let booking: Booking = serde_json::from_str(&text).unwrap();
        assert_eq!(booking.slot_duration_in_minutes, None);
        let back = serde_json::to_value(&booking).unwrap();
        assert!(back.get("slot_duration_in_minutes").is_none());
        assert!(back.get("host").is_none());
    }

    /// Read in place when a string has no escape, owned when it has one; either way the same
    /// text, and the same page once made to outlive its answer.
    #[test]
    fn strings_are_borrowed_from_the_answer_unless_escaped() {
        let text = r#"{"bookings": [{
            "activity": {"id": "a", "title": "Caf\u00e9 \"Noel\"", "location_hint": "Level 1"},
            "interaction": {"public_key": "p", "timezone": "Europe/Paris"},
            "group": {"unique_key": "g", "display_name": "G"},
            "slot_starting_at": "2024-12-10T12:30:00Z",
            "booking_status": "CONFIRMED",
            "booked_at": "2024-12-01T09:15:00Z",
            "ticket_type": {"display_name": "x", "has_limited_capacity": false},
            "host": {"display_name": "Photo Station 2"},
            "booking": "2394d604-afcc-4f7f-98c1-ef3676c20d6b"
        }], "page_number": 1, "page_size": 50, "total_count": 1}"#;
        let page: BookingPage = serde_json::from_str(text).unwrap();
        let booking = &page.bookings[0];
        assert!(matches!(booking.activity.id, Cow::Borrowed("a")));
        assert!(matches!(booking.booking, Cow::Borrowed(_)));
        assert!(matches!(
            booking.host.as_ref().unwrap().display_name,
            Cow::Borrowed("Photo Station 2")
        ));
        assert!(
            matches!(&booking.activity.title, Cow::Owned(title) if title == "Caf\u{e9} \"Noel\"")
        );
        let owned: BookingPage<'static> = page.clone().into_owned();
        assert_eq!(owned, page);
        assert!(matches!(owned.bookings[0].booking, Cow::Owned(_)));
    }

    #[test]
    fn statuses_round_trip() {
        for status in BookingStatus::ALL {
            assert_eq!(BookingStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(BookingStatus::parse("confirmed"), None);
    }
}
