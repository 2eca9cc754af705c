//! The sandbox's demo data: one tenant whose bookings show every case of the reference page.

use jiff::{SignedDuration, Timestamp};

use crate::wire::{BookingStatus, Host, TicketType};

/// A campaign (an OmniLab interaction).
#[derive(Clone, Debug)]
pub struct Campaign {
    pub public_key: String,
    /// `interactions/<uuid>`
    pub name: String,
    pub timezone: String,
    /// The first is the campaign's default language.
    pub languages: Vec<String>,
    pub group_key: String,
    pub group_name: String,
}

/// A touchpoint's text in each language the campaign author filled in.
#[derive(Clone, Debug)]
pub struct Localized(pub Vec<(String, String)>);

impl Localized {
    pub fn new(entries: &[(&str, &str)]) -> Self {
        Self(
            entries
                .iter()
                .map(|(l, t)| (l.to_string(), t.to_string()))
                .collect(),
        )
    }
}

/// A booking as the sandbox stores it: the contact, and text still in every language.
#[derive(Clone, Debug)]
pub struct StoredBooking {
    pub contact: String,
    pub campaign: usize,
    pub activity_id: String,
    pub title: Localized,
    pub location_hint: Localized,
    pub slot_starting_at: Timestamp,
    pub slot_duration_in_minutes: Option<u32>,
    pub booking_status: BookingStatus,
    pub booked_at: Timestamp,
    pub ticket_type: TicketType,
    pub host: Option<Host>,
    pub booking: String,
}

#[derive(Clone, Debug, Default)]
pub struct SandboxData {
    pub campaigns: Vec<Campaign>,
    pub bookings: Vec<StoredBooking>,
}

/// The contact the demo signs in as.
pub const DEMO_CUSTOMER: &str = "9b33d8c1-64bd-4eff-b0e4-d2fb29ecbe83";
/// A second contact, whose bookings the demo customer must never see or cancel.
pub const OTHER_CUSTOMER: &str = "5f0c2f1e-7d6a-4c1b-9e3d-2a8b7c6d5e4f";
/// The touchpoint id that both demo campaigns use: unique per campaign only.
pub const SHARED_ACTIVITY_ID: &str = "b8b2a0e2-1f3c-4a7d-9c52-0c8f2d1a6e44";
pub const CRAFT_ACTIVITY_ID: &str = "c4d1e7f0-2a3b-4c5d-8e9f-0a1b2c3d4e5f";

/// A booking id that is a valid UUID and tells its number at a glance.
pub fn booking_uuid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

impl SandboxData {
    /// Demo data with slots on the days after `start` (a UTC midnight keeps them readable):
    /// two campaigns in different time zones, one with two activities, the same activity id in
    /// both, a slot without duration, a title only in French, WAITLIST and CANCELLED bookings,
    /// and enough bookings for several pages.
    pub fn demo(start: Timestamp) -> Self {
        // Two campaigns of one brand, both in English and French.
        let campaign = |public_key: &str, name: &str, timezone: &str| Campaign {
            public_key: public_key.into(),
            name: name.into(),
            timezone: timezone.into(),
            languages: vec!["en".into(), "fr".into()],
            group_key: "example-brand".into(),
            group_name: "Example Brand".into(),
        };
        let winter = campaign(
            "winter-festival",
            "interactions/0f8d6f4e-3b2a-4c1d-9e8f-7a6b5c4d3e2f",
            "Europe/London",
        );
        let spring = campaign(
            "spring-fair",
            "interactions/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "America/New_York",
        );
        let santa = Localized::new(&[
            ("en", "Santa Photo Experience"),
            ("fr", "Photo avec le Père Noël"),
        ]);
        let santa_place = Localized::new(&[
            ("en", "Level 1, near the fountain"),
            ("fr", "Niveau 1, près de la fontaine"),
        ]);
        let craft = Localized::new(&[("en", "Craft Workshop"), ("fr", "Atelier créatif")]);
        let craft_place =
            Localized::new(&[("en", "Level 2, studio B"), ("fr", "Niveau 2, studio B")]);
        // Only French was filled in: an English request gets the raw map, as OmniLab sends it.
        let egg_hunt = Localized::new(&[("fr", "Chasse aux œufs")]);
        let egg_place = Localized::new(&[("en", "Central lawn"), ("fr", "Pelouse centrale")]);

        let standard = TicketType {
            display_name: "Standard entry".into(),
            has_limited_capacity: true,
        };
        let family = TicketType {
            display_name: "Family pass".into(),
            has_limited_capacity: false,
        };
        let station = |n: u32| {
            Some(Host {
                display_name: format!("Photo Station {n}"),
            })
        };

        let mut data = Self {
            campaigns: vec![winter, spring],
            bookings: Vec::new(),
        };
        let at = |day: i64, hour: i64, minute: i64| {
            start + SignedDuration::from_hours(day * 24 + hour) + SignedDuration::from_mins(minute)
        };
        let mut next = 0;
        let mut add = |contact: &str,
                       campaign: usize,
                       activity: &str,
                       (title, place): (&Localized, &Localized),
                       slot: Timestamp,
                       minutes: Option<u32>,
                       status: BookingStatus,
                       ticket: &TicketType,
                       host: Option<Host>| {
            next += 1;
            data.bookings.push(StoredBooking {
                contact: contact.into(),
                campaign,
                activity_id: activity.into(),
                title: title.clone(),
                location_hint: place.clone(),
                slot_starting_at: slot,
                slot_duration_in_minutes: minutes,
                booking_status: status,
                booked_at: start - SignedDuration::from_hours(i64::from(next)),
                ticket_type: ticket.clone(),
                host,
                booking: booking_uuid(next),
            });
        };
        use BookingStatus::{Cancelled, Confirmed, Waitlist};
        let me = DEMO_CUSTOMER;
        let (santa, craft, egg) = (
            (&santa, &santa_place),
            (&craft, &craft_place),
            (&egg_hunt, &egg_place),
        );
        add(
            me,
            0,
            SHARED_ACTIVITY_ID,
            santa,
            at(1, 12, 30),
            Some(30),
            Confirmed,
            &standard,
            station(2),
        );
        add(
            me,
            0,
            SHARED_ACTIVITY_ID,
            santa,
            at(3, 10, 0),
            Some(30),
            Confirmed,
            &family,
            station(1),
        );
        add(
            me,
            0,
            CRAFT_ACTIVITY_ID,
            craft,
            at(2, 14, 0),
            Some(90),
            Confirmed,
            &standard,
            None,
        );
        add(
            me,
            1,
            SHARED_ACTIVITY_ID,
            egg,
            at(4, 15, 0),
            None,
            Confirmed,
            &family,
            None,
        );
        add(
            me,
            0,
            CRAFT_ACTIVITY_ID,
            craft,
            at(5, 9, 0),
            Some(90),
            Waitlist,
            &standard,
            None,
        );
        add(
            me,
            0,
            SHARED_ACTIVITY_ID,
            santa,
            at(6, 11, 0),
            Some(30),
            Cancelled,
            &standard,
            station(2),
        );
        for day in 7..13 {
            add(
                me,
                1,
                SHARED_ACTIVITY_ID,
                egg,
                at(day, 16, 0),
                Some(45),
                Confirmed,
                &standard,
                None,
            );
        }
        add(
            OTHER_CUSTOMER,
            0,
            SHARED_ACTIVITY_ID,
            santa,
            at(1, 13, 0),
            Some(30),
            Confirmed,
            &standard,
            station(1),
        );
        add(
            OTHER_CUSTOMER,
            1,
            SHARED_ACTIVITY_ID,
            egg,
            at(2, 16, 0),
            Some(45),
            Confirmed,
            &family,
            None,
        );
        data
    }

    /// The sandbox's own sign-in: a contact with `count` confirmed bookings, for paging tests
    /// and benchmarks.
    pub fn with_many(mut self, contact: &str, count: u32, start: Timestamp) -> Self {
        let base = self.bookings.len() as u32;
        let santa = Localized::new(&[("en", "Santa Photo Experience")]);
        for n in 0..count {
            self.bookings.push(StoredBooking {
                contact: contact.into(),
                campaign: 0,
                activity_id: SHARED_ACTIVITY_ID.into(),
                title: santa.clone(),
                location_hint: Localized::new(&[("en", "Level 1")]),
                slot_starting_at: start + SignedDuration::from_mins(i64::from(n) * 15),
                slot_duration_in_minutes: Some(15),
                booking_status: BookingStatus::Confirmed,
                booked_at: start,
                ticket_type: TicketType {
                    display_name: "Standard entry".into(),
                    has_limited_capacity: true,
                },
                host: None,
                booking: booking_uuid(base + n + 1_000_000),
            });
        }
        self
    }
}
