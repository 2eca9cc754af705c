//! What `GET /bookings` answers: OmniLab's bookings made ready to show.
//!
//! Three things are added to the raw page: localized strings always come out as plain text, each
//! slot gets its end and its start in the campaign's local time, and bookings are grouped by
//! touchpoint the way the reference page's account-page flow asks.
//!
//! # Layout
//!
//! - `mod.rs`: the answer's types, and [`views`], a page's bookings made into them (each slot's
//!   end and local start).
//! - [`localize`]: OmniLab's localized strings resolved to plain text ([`localized`]).
//! - [`zones`]: the time zones a page names, each looked up once, and the offsets its instants
//!   fell in.
//! - [`groups`]: the bookings grouped by campaign and touchpoint ([`group`]).
//! - [`json`]: the answer's JSON written field by field, already escaped for the Lambda response,
//!   and whether it fits there ([`render`]).

mod groups;
mod json;
mod localize;
mod zones;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::model::Booking;
use crate::omnilab::Language;

pub use groups::group;
pub use json::{MAX_BODY_BYTES, TooLarge, render};
pub use localize::localized;
use zones::Zones;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BookingView<'a> {
    #[serde(flatten)]
    pub booking: Booking<'a>,
    /// Only when OmniLab gave a duration: we never guess one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_ending_at: Option<Timestamp>,
    /// The start with the offset of `interaction.timezone` at that instant (DST included).
    /// Absent only if OmniLab sent a time zone name that does not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_starting_at_local: Option<String>,
}

/// The bookings of one touchpoint: `activity.id` repeats across campaigns, so the campaign's
/// public key is part of the key.
///
/// It borrows from the bookings it groups, which the answer shows anyway: copying each
/// booking's id and strings again was an allocation each for nothing.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BookingGroup<'a> {
    pub interaction_public_key: &'a str,
    pub activity_id: &'a str,
    pub activity_title: &'a str,
    pub timezone: &'a str,
    /// In slot order.
    pub booking_ids: Vec<&'a str>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BookingList<'a> {
    pub bookings: &'a [BookingView<'a>],
    pub groups: Vec<BookingGroup<'a>>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_count: u64,
    /// Only when `all=true` was cut short: where the bookings not in this answer start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<NextPage>,
    /// Only when true (`all=true`): the bookings kept changing while they were paged, so some
    /// may be missing from this answer (none is ever shown twice).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// The page to ask for next, with the same filters, to get the rest.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct NextPage {
    pub page_number: u32,
    pub page_size: u32,
}

impl<'a> BookingList<'a> {
    pub fn new(
        bookings: &'a [BookingView<'a>],
        page_number: u32,
        page_size: u32,
        total_count: u64,
    ) -> Self {
        Self {
            groups: group(bookings),
            bookings,
            page_number,
            page_size,
            total_count,
            next_page: None,
            incomplete: false,
        }
    }
}

impl<'a> BookingView<'a> {
    /// A booking made ready to show, with the time zones of the page's earlier bookings at hand.
    fn with_zones(
        mut booking: Booking<'a>,
        language: Option<&Language>,
        zones: &mut Zones,
    ) -> Self {
        booking.activity.title = localized(std::mem::take(&mut booking.activity.title), language);
        if let Some(hint) = booking.activity.location_hint.take() {
            booking.activity.location_hint = Some(localized(hint, language));
        }
        let slot_ending_at = booking.slot_duration_in_minutes.and_then(|minutes| {
            booking
                .slot_starting_at
                .checked_add(SignedDuration::from_mins(i64::from(minutes)))
                .ok()
        });
        let start = booking.slot_starting_at;
        let slot_starting_at_local = zones
            .get(&booking.interaction.timezone)
            .map(|zone| crate::rfc3339::with_offset(start, zone.offset_at(start)));
        if slot_starting_at_local.is_none() {
            tracing::warn!(timezone = ?booking.interaction.timezone, "OmniLab sent an unknown time zone");
        }
        Self {
            booking,
            slot_ending_at,
            slot_starting_at_local,
        }
    }
}

/// The views of a page's bookings, in order.
pub fn views<'a>(bookings: Vec<Booking<'a>>, language: Option<&Language>) -> Vec<BookingView<'a>> {
    let mut zones = Zones::default();
    bookings
        .into_iter()
        .map(|booking| BookingView::with_zones(booking, language, &mut zones))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activity, BookingStatus, Group, Interaction, TicketType};

    /// One booking's view, as a page of one makes it.
    pub(super) fn view_of(booking: Booking) -> BookingView {
        views(vec![booking], None).remove(0)
    }

    /// A confirmed booking in London, for the tests of each of the view's files.
    pub(super) fn booking(
        public_key: &str,
        activity: &str,
        at: &str,
        id: &str,
        minutes: Option<u32>,
    ) -> Booking<'static> {
        Booking {
            activity: Activity {
                id: activity.to_owned().into(),
                title: format!("{activity} title").into(),
                location_hint: None,
            },
            interaction: Interaction {
                public_key: public_key.to_owned().into(),
                timezone: "Europe/London".into(),
            },
            group: Group {
                unique_key: "example-brand".into(),
                display_name: "Example Brand".into(),
            },
            slot_starting_at: at.parse().unwrap(),
            slot_duration_in_minutes: minutes,
            booking_status: BookingStatus::Confirmed,
            booked_at: "2024-12-01T09:15:00Z".parse().unwrap(),
            ticket_type: TicketType {
                display_name: "Standard entry".into(),
                has_limited_capacity: true,
            },
            host: None,
            booking: id.to_owned().into(),
        }
    }

    #[test]
    fn the_end_of_a_slot_is_known_only_with_a_duration() {
        let with = view_of(booking("p", "a", "2024-12-10T12:30:00Z", "1", Some(30)));
        let without = view_of(booking("p", "a", "2024-12-10T12:30:00Z", "2", None));
        assert_eq!(
            with.slot_ending_at.unwrap().to_string(),
            "2024-12-10T13:00:00Z"
        );
        assert_eq!(without.slot_ending_at, None);
        let json = serde_json::to_value(&without).unwrap();
        assert!(json.get("slot_ending_at").is_none());
        assert!(json.get("slot_duration_in_minutes").is_none());
        assert_eq!(json["slot_starting_at_local"], "2024-12-10T12:30:00+00:00");
        assert_eq!(json["booking"], "2");
    }

    /// Zones are looked up once per page, each booking still in its own zone.
    #[test]
    fn each_booking_is_shown_in_its_own_zone() {
        let mut paris = booking("p", "a", "2024-07-10T12:30:00Z", "2", None);
        paris.interaction.timezone = "Europe/Paris".into();
        let mut nowhere = booking("p", "a", "2024-07-10T12:30:00Z", "3", None);
        nowhere.interaction.timezone = "Mars/Olympus_Mons".into();
        let london = booking("p", "a", "2024-07-10T12:30:00Z", "1", None);
        let shown: Vec<Option<String>> = views(vec![london.clone(), paris, nowhere, london], None)
            .into_iter()
            .map(|view| view.slot_starting_at_local)
            .collect();
        assert_eq!(
            shown,
            [
                Some("2024-07-10T13:30:00+01:00".to_owned()),
                Some("2024-07-10T14:30:00+02:00".to_owned()),
                None,
                Some("2024-07-10T13:30:00+01:00".to_owned()),
            ]
        );
    }
}
