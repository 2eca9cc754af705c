//! The answer as it travels in a Lambda response: its JSON written by hand, field by field,
//! already escaped as a JSON string's contents, and whether it fits there.

use jiff::Timestamp;

use super::{BookingGroup, BookingList, BookingView};
use crate::escaped::{Escaped, Writer};

/// Lambda refuses a synchronous response over 6 MB (6,291,456 bytes) of JSON, in which the
/// body travels as an escaped string. What stays below this leaves room for the status and
/// headers around it.
pub const MAX_BODY_BYTES: usize = 6_291_456 - 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer would be {0} bytes in the Lambda response, over {MAX_BODY_BYTES}")]
pub struct TooLarge(pub usize);

/// About what one booking of the sandbox's demo data takes in the answer, escaped. Sizing the buffer up front spares the doublings and copies of a growing one; a wrong
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
// derived `Serialize` impls of the view's types (in `super`) and of the model's, which stay its
// definition: the tests hold `render` to serde_json's text of the same list, escaped once, for
// whole pages of arbitrary bookings, so a field added to one and not the other fails them. Why
// by hand: see `crate::escaped`.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Booking, BookingStatus, Host};
    use crate::view::tests::booking;
    use crate::view::{NextPage, views};

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
