//! The time zones a page's bookings name, each looked up once, and the offsets its instants
//! fell in.

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// The time zones a page's bookings name, each looked up once: a page's bookings nearly always
/// share one or two, and a lookup is a search of the bundled database and a copy of the zone.
/// A map, not a list: `all=true` may bring 10,000 bookings, and OmniLab as many names.
/// Hashed with foldhash, not SipHash: the keys are OmniLab's, and SipHash's resistance to
/// crafted keys cost more than the rest of a lookup (seeded per map all the same).
#[derive(Default)]
pub(super) struct Zones(foldhash::HashMap<String, Option<Zone>>);

impl Zones {
    pub(super) fn get(&mut self, name: &str) -> Option<&mut Zone> {
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
/// Why: working out a zone's offset at an instant (its rules for that year) was done again for
/// every booking of a warm page (what doing it less saved: docs/performance.md), while a page's bookings mostly fall between the
/// same two transitions, or either side of one (two stretches: summer and winter time).
pub(super) struct Zone {
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
    pub(super) fn offset_at(&mut self, at: Timestamp) -> Offset {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn local_time_follows_daylight_saving() {
        let cases = [
            (
                "2024-12-10T12:30:00Z",
                "Europe/London",
                "2024-12-10T12:30:00+00:00",
            ),
            (
                "2024-07-10T12:30:00Z",
                "Europe/London",
                "2024-07-10T13:30:00+01:00",
            ),
            (
                "2024-12-10T12:30:00Z",
                "America/New_York",
                "2024-12-10T07:30:00-05:00",
            ),
            // The night the clocks go forward in Paris: 00:30Z is 01:30+01:00, 01:30Z is 03:30+02:00.
            (
                "2025-03-30T00:30:00Z",
                "Europe/Paris",
                "2025-03-30T01:30:00+01:00",
            ),
            (
                "2025-03-30T01:30:00Z",
                "Europe/Paris",
                "2025-03-30T03:30:00+02:00",
            ),
        ];
        for (at, zone, local) in cases {
            let at: Timestamp = at.parse().unwrap();
            assert_eq!(
                local_time(at, zone).as_deref(),
                Some(local),
                "{at} in {zone}"
            );
        }
        let winter: Timestamp = "2024-12-10T12:30:00Z".parse().unwrap();
        assert_eq!(local_time(winter, "Mars/Olympus_Mons"), None);
    }

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
    }
}
