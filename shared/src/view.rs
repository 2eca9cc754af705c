//! What `GET /bookings` answers: OmniLab's bookings made ready to show.
//!
//! Three things are added to the raw page: localized strings always come out as plain text, each
//! slot gets its end and its start in the campaign's local time, and bookings are grouped by
//! touchpoint the way the reference page's account-page flow asks.

use std::borrow::Cow;

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::escaped::{Escaped, Writer};
use crate::model::Booking;
use crate::omnilab::Language;

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
/// booking's id and strings again was ~60 allocations a page for nothing.
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

/// Lambda refuses a synchronous response over 6 MB (6,291,456 bytes) of JSON, in which the
/// body travels as an escaped string. What stays below this leaves room for the status and
/// headers around it.
pub const MAX_BODY_BYTES: usize = 6_291_456 - 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer would be {0} bytes in the Lambda response, over {MAX_BODY_BYTES}")]
pub struct TooLarge(pub usize);

/// About what one booking takes in the answer, escaped (a 50-booking page of the sandbox's is
/// ~40 KB). Sizing the buffer up front spares the doublings and copies of a growing one; a wrong
/// guess costs only what it would have cost anyway.
const BYTES_PER_BOOKING: usize = 896;

/// The list as it travels in a Lambda response, if it fits there: its JSON escaped as a JSON
/// string's contents in the one pass that writes it ([`crate::escaped`]).
pub fn render(list: &BookingList<'_>) -> Result<Escaped, TooLarge> {
    let mut writer = Writer::with_capacity(256 + list.bookings.len() * BYTES_PER_BOOKING);
    list.write(&mut writer);
    let answer = writer.finish();
    match answer.encoded_len() {
        len if len <= MAX_BODY_BYTES => Ok(answer),
        len => Err(TooLarge(len)),
    }
}

// The answer written by hand, field by field, in the order and with the omissions of the
// derived `Serialize` impls above (and the model's), which stay its definition: the tests hold
// `render` to serde_json's text of the same list, escaped once, for whole pages of arbitrary
// bookings, so a field added to one and not the other fails them. Why by hand: see
// `crate::escaped`.

impl BookingList<'_> {
    fn write(&self, out: &mut Writer) {
        out.put("{");
        out.key("bookings");
        out.array(self.bookings, |out, view| view.write(out));
        out.and_key("groups");
        out.array(&self.groups, |out, group| group.write(out));
        out.and_key("page_number");
        out.integer(self.page_number);
        out.and_key("page_size");
        out.integer(self.page_size);
        out.and_key("total_count");
        out.integer(self.total_count);
        if let Some(next) = &self.next_page {
            out.and_key("next_page");
            out.put("{");
            out.key("page_number");
            out.integer(next.page_number);
            out.and_key("page_size");
            out.integer(next.page_size);
            out.put("}");
        }
        if self.incomplete {
            out.and_key("incomplete");
            out.put("true");
        }
        out.put("}");
    }
}

impl BookingView<'_> {
    fn write(&self, out: &mut Writer) {
        let booking = &self.booking;
        out.put("{");
        out.key("activity");
        out.put("{");
        out.key("id");
        out.string(&booking.activity.id);
        out.and_key("title");
        out.string(&booking.activity.title);
        if let Some(hint) = &booking.activity.location_hint {
            out.and_key("location_hint");
            out.string(hint);
        }
        out.put("}");
        out.and_key("interaction");
        out.put("{");
        out.key("public_key");
        out.string(&booking.interaction.public_key);
        out.and_key("timezone");
        out.string(&booking.interaction.timezone);
        out.put("}");
        out.and_key("group");
        out.put("{");
        out.key("unique_key");
        out.string(&booking.group.unique_key);
        out.and_key("display_name");
        out.string(&booking.group.display_name);
        out.put("}");
        out.and_key("slot_starting_at");
        instant(out, booking.slot_starting_at);
        if let Some(minutes) = booking.slot_duration_in_minutes {
            out.and_key("slot_duration_in_minutes");
            out.integer(minutes);
        }
        out.and_key("booking_status");
        out.string(booking.booking_status.as_str());
        out.and_key("booked_at");
        instant(out, booking.booked_at);
        out.and_key("ticket_type");
        out.put("{");
        out.key("display_name");
        out.string(&booking.ticket_type.display_name);
        out.and_key("has_limited_capacity");
        out.put(if booking.ticket_type.has_limited_capacity {
            "true"
        } else {
            "false"
        });
        out.put("}");
        if let Some(host) = &booking.host {
            out.and_key("host");
            out.put("{");
            out.key("display_name");
            out.string(&host.display_name);
            out.put("}");
        }
        out.and_key("booking");
        out.string(&booking.booking);
        if let Some(end) = self.slot_ending_at {
            out.and_key("slot_ending_at");
            instant(out, end);
        }
        if let Some(local) = &self.slot_starting_at_local {
            out.and_key("slot_starting_at_local");
            out.string(local);
        }
        out.put("}");
    }
}

impl BookingGroup<'_> {
    fn write(&self, out: &mut Writer) {
        out.put("{");
        out.key("interaction_public_key");
        out.string(self.interaction_public_key);
        out.and_key("activity_id");
        out.string(self.activity_id);
        out.and_key("activity_title");
        out.string(self.activity_title);
        out.and_key("timezone");
        out.string(self.timezone);
        out.and_key("booking_ids");
        out.array(&self.booking_ids, |out, id| out.string(id));
        out.put("}");
    }
}

fn instant(out: &mut Writer, instant: Timestamp) {
    crate::rfc3339::with_text(instant, |text| out.string(text));
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

/// The time zones a page's bookings name, each looked up once: a page's bookings nearly always
/// share one or two, and a lookup is a search of the bundled database and a copy of the zone.
/// A map, not a list: `all=true` may bring 10,000 bookings, and OmniLab as many names.
/// Hashed with foldhash, not SipHash: the keys are OmniLab's, and SipHash's resistance to
/// crafted keys cost more than the rest of a lookup (seeded per map all the same).
#[derive(Default)]
struct Zones(foldhash::HashMap<String, Option<Zone>>);

impl Zones {
    fn get(&mut self, name: &str) -> Option<&mut Zone> {
        if !self.0.contains_key(name) {
            let zone = TimeZone::get(name).ok().map(|zone| Zone {
                zone,
                spans: [None, None],
            });
            self.0.insert(name.to_owned(), zone);
        }
        self.0.get_mut(name).and_then(Option::as_mut)
    }
}

/// A zone, and the last two stretches of time between its transitions that a page's instants
/// fell in.
///
/// Why: working out a zone's offset at an instant (its rules for that year) was ~60 K
/// instructions of a warm 50-booking page, while a page's bookings mostly fall between the
/// same two transitions, or either side of one (two stretches: summer and winter time).
struct Zone {
    zone: TimeZone,
    spans: [Option<Span>; 2],
}

/// From one transition (inclusive; `None`: since ever) to the next (exclusive; `None`: for
/// ever), one offset.
#[derive(Clone, Copy)]
struct Span {
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    offset: Offset,
}

impl Span {
    fn holds(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|from| from <= at) && self.until.is_none_or(|until| at < until)
    }
}

impl Zone {
    /// The zone's offset at `at`, as `TimeZone::to_offset` gives it.
    fn offset_at(&mut self, at: Timestamp) -> Offset {
        if let Some(span) = self.spans.iter().flatten().find(|span| span.holds(at)) {
            return span.offset;
        }
        let offset = self.zone.to_offset(at);
        // jiff's transitions before and after an instant leave out one at the instant itself:
        // look for the last one before the next nanosecond.
        let from = at
            .checked_add(SignedDuration::from_nanos(1))
            .ok()
            .and_then(|after| self.zone.preceding(after).next())
            .map(|transition| transition.timestamp());
        let until = self
            .zone
            .following(at)
            .next()
            .map(|transition| transition.timestamp());
        self.spans = [
            Some(Span {
                from,
                until,
                offset,
            }),
            self.spans[0],
        ];
        offset
    }
}

/// Resolves OmniLab's localized-string edge case: when the campaign has no text in the resolved
/// language, the field may hold a language map serialized as a string, such as `{"fr":"…"}`.
/// Take the requested language's entry, else the first one; anything that is not such a map is
/// already the text, and is handed back as it came.
pub fn localized<'a>(raw: Cow<'a, str>, language: Option<&Language>) -> Cow<'a, str> {
    if !raw.trim_start().starts_with('{') {
        return raw;
    }
    // `serde_json` keeps the map in document order (feature `preserve_order`), so "first" is
    // the first entry OmniLab wrote. Its recursion limit bounds hostile nesting.
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&raw) else {
        return raw;
    };
    let text_of =
        |value: &serde_json::Value| value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    Cow::Owned(
        language
            .and_then(|language| map.get(language.as_str()).and_then(text_of))
            .or_else(|| map.values().find_map(text_of))
            .unwrap_or_default(),
    )
}

/// Groups bookings by (campaign, touchpoint); bookings inside a group in slot order, groups by
/// their earliest slot (ties broken by key, so the answer is stable).
pub fn group<'a>(bookings: &'a [BookingView<'_>]) -> Vec<BookingGroup<'a>> {
    let mut order: Vec<&BookingView> = bookings.iter().collect();
    order.sort_by(|a, b| {
        (a.booking.slot_starting_at, &a.booking.booking)
            .cmp(&(b.booking.slot_starting_at, &b.booking.booking))
    });
    let mut index: foldhash::HashMap<(&str, &str), usize> = foldhash::HashMap::default();
    let mut groups: Vec<BookingGroup> = Vec::new();
    for view in order {
        let booking = &view.booking;
        let key = (&*booking.interaction.public_key, &*booking.activity.id);
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(BookingGroup {
                interaction_public_key: &booking.interaction.public_key,
                activity_id: &booking.activity.id,
                activity_title: &booking.activity.title,
                timezone: &booking.interaction.timezone,
                booking_ids: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].booking_ids.push(&booking.booking);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activity, BookingStatus, Group, Host, Interaction, TicketType};

    fn lang(code: &str) -> Language {
        Language::parse(code).unwrap()
    }

    /// One booking's view, as a page of one makes it.
    fn view_of(booking: Booking) -> BookingView {
        views(vec![booking], None).remove(0)
    }

    /// `instant` as a booking in `timezone` shows it.
    fn local_time(instant: Timestamp, timezone: &str) -> Option<String> {
        Zones::default()
            .get(timezone)
            .map(|zone| crate::rfc3339::with_offset(instant, zone.offset_at(instant)))
    }

    /// One zone asked for instant after instant, as a page's bookings ask it: each offset is
    /// jiff's own, on either side of a transition, at the transition itself, and after the
    /// remembered stretches are pushed out.
    #[test]
    fn a_zones_remembered_offsets_are_the_zones_offsets() {
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        // London's clocks went forward at 2025-03-30T01:00:00Z and back at 2025-10-26T01:00:00Z.
        let instants = [
            "2025-01-10T12:00:00Z",
            "2025-03-30T00:59:59Z",
            "2025-03-30T01:00:00Z",
            "2025-03-30T00:59:59Z",
            "2025-07-01T12:00:00Z",
            "2025-10-26T00:59:59Z",
            "2025-10-26T01:00:00Z",
            "2025-01-10T12:00:00Z",
            "2025-07-01T12:00:00Z",
            "1800-01-01T00:00:00Z",
            "2200-07-01T00:00:00Z",
        ];
        for name in [
            "Europe/London",
            "Australia/Lord_Howe",
            "UTC",
            "Asia/Kolkata",
        ] {
            let mut zones = Zones::default();
            let direct = TimeZone::get(name).unwrap();
            for instant in instants.map(at) {
                let zone = zones.get(name).unwrap();
                assert_eq!(
                    zone.offset_at(instant),
                    direct.to_offset(instant),
                    "{name} {instant}"
                );
            }
        }
    }

    #[test]
    fn plain_text_stays_as_it_is() {
        assert_eq!(
            localized("Santa Photo Experience".into(), Some(&lang("fr"))),
            "Santa Photo Experience"
        );
        assert_eq!(localized("{not json".into(), None), "{not json");
        assert_eq!(localized("".into(), None), "");
    }

    #[test]
    fn a_language_map_resolves_to_the_language_else_the_first_entry() {
        let raw = r#"{"fr":"Photo avec le Père Noël","de":"Fotoerlebnis"}"#;
        assert_eq!(localized(raw.into(), Some(&lang("de"))), "Fotoerlebnis");
        assert_eq!(
            localized(raw.into(), Some(&lang("en"))),
            "Photo avec le Père Noël"
        );
        assert_eq!(localized(raw.into(), None), "Photo avec le Père Noël");
        assert_eq!(
            localized(r#"{"fr":"","de":"Foto"}"#.into(), Some(&lang("fr"))),
            "Foto"
        );
    }

    #[test]
    fn hostile_maps_do_not_panic() {
        let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert_eq!(localized(deep.as_str().into(), None), deep);
        assert_eq!(localized(r#"{"fr":{"x":1}}"#.into(), None), "");
        assert_eq!(localized("[1,2]".into(), None), "[1,2]");
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        let winter: Timestamp = "2024-12-10T12:30:00Z".parse().unwrap();
        let summer: Timestamp = "2024-07-10T12:30:00Z".parse().unwrap();
        assert_eq!(
            local_time(winter, "Europe/London").unwrap(),
            "2024-12-10T12:30:00+00:00"
        );
        assert_eq!(
            local_time(summer, "Europe/London").unwrap(),
            "2024-07-10T13:30:00+01:00"
        );
        assert_eq!(
            local_time(winter, "America/New_York").unwrap(),
            "2024-12-10T07:30:00-05:00"
        );
        // The night the clocks go forward in Paris: 00:30Z is 01:30+01:00, 01:30Z is 03:30+02:00.
        let before: Timestamp = "2025-03-30T00:30:00Z".parse().unwrap();
        let after: Timestamp = "2025-03-30T01:30:00Z".parse().unwrap();
        assert_eq!(
            local_time(before, "Europe/Paris").unwrap(),
            "2025-03-30T01:30:00+01:00"
        );
        assert_eq!(
            local_time(after, "Europe/Paris").unwrap(),
            "2025-03-30T03:30:00+02:00"
        );
        assert_eq!(local_time(winter, "Mars/Olympus_Mons"), None);
    }

    fn booking(
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

    #[test]
    fn the_same_activity_in_two_campaigns_is_two_groups() {
        let views: Vec<BookingView> = [
            booking(
                "winter-festival",
                "santa",
                "2024-12-12T10:00:00Z",
                "w2",
                Some(30),
            ),
            booking("spring-fair", "santa", "2024-12-11T10:00:00Z", "s1", None),
            booking(
                "winter-festival",
                "craft",
                "2024-12-13T10:00:00Z",
                "c1",
                Some(60),
            ),
            booking(
                "winter-festival",
                "santa",
                "2024-12-10T10:00:00Z",
                "w1",
                Some(30),
            ),
        ]
        .into_iter()
        .map(view_of)
        .collect();
        let groups = group(&views);
        let summary: Vec<(&str, &str, Vec<&str>)> = groups
            .iter()
            .map(|g| {
                (
                    g.interaction_public_key,
                    g.activity_id,
                    g.booking_ids.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("winter-festival", "santa", vec!["w1", "w2"]),
                ("spring-fair", "santa", vec!["s1"]),
                ("winter-festival", "craft", vec!["c1"]),
            ]
        );
        assert!(group(&[]).is_empty());
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

    /// What `render` writes is serde_json's own text escaped once as a string, byte for byte,
    /// and it fits exactly when that does. Quotes nearly double in the escape, letters do not,
    /// so the text's own length does not tell.
    #[test]
    fn an_answer_is_its_json_escaped_once_and_fits_exactly_when_that_does() {
        let mut seen = Vec::new();
        for (bookings, quotes, letters) in [
            (1, 10, 0),           // small: fits
            (40, 70_000, 0),      // nearly the limit once escaped: fits
            (50, 0, 70_000),      // over half the limit, few escapes: fits
            (50, 50_000, 30_000), // under the limit until escaped
            (110, 30_000, 0),     // over the limit
        ] {
            let page: Vec<Booking> = (0..bookings)
                .map(|n| {
                    let mut b = booking("p", "a", "2024-12-10T12:30:00Z", &n.to_string(), None);
                    b.activity.title =
                        format!("{}{}", "\"".repeat(quotes), "x".repeat(letters)).into();
                    b
                })
                .collect();
            let views = views(page, None);
            let list = BookingList::new(&views, 1, bookings, u64::from(bookings));
            let text = serde_json::to_string(&list).unwrap();
            let escaped = serde_json::to_string(&text).unwrap();
            let fits = escaped.len() <= MAX_BODY_BYTES;
            match render(&list) {
                Ok(body) => {
                    assert!(fits, "{bookings} x {quotes}: {}", escaped.len());
                    assert!(format!("\"{}\"", body.as_str()) == escaped);
                    assert_eq!(body.encoded_len(), escaped.len());
                    assert!(body.unescape() == text);
                }
                Err(TooLarge(len)) => assert!(len == escaped.len() && !fits, "{len} vs {escaped}"),
            }
            seen.push(fits);
        }
        assert!(seen.contains(&true) && seen.contains(&false), "{seen:?}");
    }

    /// Every escape serde_json makes, inside an escape of its own: quotes, backslashes, each
    /// control character, and text that needs none (a solidus, accents, an emoji).
    #[test]
    fn every_escape_is_escaped_again() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let mut b = booking("p", "a", "2024-12-10T12:30:00Z", "1", None);
        b.activity.title =
            format!("\"a\\b\" / P\u{e8}re No\u{eb}l \u{1f385} {controls}\u{7f}").into();
        let views = views(vec![b], None);
        let list = BookingList::new(&views, 1, 1, 1);
        let text = serde_json::to_string(&list).unwrap();
        let body = render(&list).unwrap();
        assert_eq!(
            format!("\"{}\"", body.as_str()),
            serde_json::to_string(&text).unwrap()
        );
        assert_eq!(body.unescape(), text);
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Any instants, in any order, in zones with and without daylight saving, with offsets
        /// of half and quarter hours: the remembered offsets are jiff's.
        #[test]
        fn any_instants_get_their_zones_offsets(
            zone in proptest::sample::select(vec![
                "Europe/London", "America/New_York", "Australia/Sydney", "America/St_Johns",
                "Pacific/Chatham", "Asia/Tokyo", "Etc/GMT+5", "Africa/Casablanca",
            ]),
            base in 1_600_000_000i64..1_900_000_000,
            // Within eight months of each other, as a page's bookings are: the remembered
            // stretches are hit, and missed across transitions.
            later in proptest::collection::vec(0i64..20_000_000, 1..40),
        ) {
            let mut zones = Zones::default();
            let direct = TimeZone::get(zone).unwrap();
            for second in later {
                let instant = Timestamp::from_second(base + second).unwrap();
                let offset = zones.get(zone).unwrap().offset_at(instant);
                proptest::prop_assert_eq!(offset, direct.to_offset(instant));
            }
        }

        /// Whatever OmniLab's strings hold.
        #[test]
        fn any_title_renders_as_its_json_escaped_once(title in ".*", hint in proptest::option::of(".*")) {
            let mut b = booking("p", "a", "2024-12-10T12:30:00Z", "1", None);
            b.activity.title = title.into();
            b.activity.location_hint = hint.map(Into::into);
            let views = views(vec![b], None);
            let list = BookingList::new(&views, 1, 1, 1);
            let text = serde_json::to_string(&list).unwrap();
            let body = render(&list).unwrap();
            proptest::prop_assert_eq!(
                format!("\"{}\"", body.as_str()),
                serde_json::to_string(&text).unwrap()
            );
        }

        /// Whole pages: every string field, every optional one present or not, any status,
        /// any instant, a page cut short or not (the answer's own optional fields).
        #[test]
        fn any_page_renders_as_its_json_escaped_once(
            bookings in proptest::collection::vec(
                (
                    proptest::collection::vec(".*", 8),
                    // A zone that exists (so a local start is shown) or any text (so it is not).
                    proptest::prop_oneof![
                        proptest::sample::select(vec!["Europe/London", "Asia/Kolkata"])
                            .prop_map(str::to_owned)
                            .boxed(),
                        ".*".boxed(),
                    ],
                    proptest::option::of(".*"),
                    proptest::option::of(".*"),
                    proptest::option::of(0u32..100_000),
                    0usize..3,
                    (-377_705_023_201i64..=253_402_207_200, proptest::bool::ANY),
                ),
                0..4,
            ),
            cut_short in proptest::bool::ANY,
        ) {
            let page: Vec<Booking> = bookings
                .into_iter()
                .map(|(texts, zone, hint, host, minutes, status, (second, capacity))| {
                    let mut b = booking(&texts[0], &texts[1], "2024-12-10T12:30:00Z", &texts[2], minutes);
                    b.activity.title = texts[3].clone().into();
                    b.activity.location_hint = hint.map(Into::into);
                    b.group.unique_key = texts[4].clone().into();
                    b.group.display_name = texts[5].clone().into();
                    b.ticket_type.display_name = texts[6].clone().into();
                    b.ticket_type.has_limited_capacity = capacity;
                    b.interaction.timezone = zone.into();
                    b.host = host.map(|display_name| Host {
                        display_name: display_name.into(),
                    });
                    b.booking_status = BookingStatus::ALL[status];
                    b.slot_starting_at = Timestamp::from_second(second).unwrap();
                    b
                })
                .collect();
            let views = views(page, None);
            let mut list = BookingList::new(&views, 3, 50, u64::MAX);
            if cut_short {
                list.next_page = Some(NextPage { page_number: 4, page_size: 50 });
                list.incomplete = true;
            }
            let text = serde_json::to_string(&list).unwrap();
            let body = render(&list).unwrap();
            proptest::prop_assert_eq!(
                format!("\"{}\"", body.as_str()),
                serde_json::to_string(&text).unwrap()
            );
        }
    }
}
