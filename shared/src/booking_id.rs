//! The identifier of one booking, as OmniLab hands it out.

/// A booking identifier: checked to be a UUID, yet kept as the exact text it came with,
/// because OmniLab wants the value back untransformed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct BookingId(String);

/// A [`BookingId`] folded to lower case: UUIDs are case-insensitive, so two spellings of one
/// booking share a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BookingKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Self::REASON)]
pub struct InvalidBookingId;

impl InvalidBookingId {
    pub const REASON: &'static str = "must be a UUID such as 2394d604-afcc-4f7f-98c1-ef3676c20d6b";
}

impl BookingId {
    pub fn parse(text: &str) -> Result<Self, InvalidBookingId> {
        if is_uuid(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidBookingId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The booking whatever the case of its hex digits: what names it in a map.
    pub fn key(&self) -> BookingKey {
        BookingKey(self.0.to_ascii_lowercase())
    }

    /// Whether `other` names the same booking. UUIDs are case-insensitive, so an id typed in
    /// upper case still matches the lower-case one OmniLab listed.
    pub fn matches(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

/// The canonical 8-4-4-4-12 hexadecimal form, and nothing else (no braces, no `urn:uuid:`).
fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_exact_text() {
        let id = BookingId::parse("2394D604-afcc-4f7f-98c1-ef3676c20d6b").unwrap();
        assert_eq!(id.as_str(), "2394D604-afcc-4f7f-98c1-ef3676c20d6b");
        assert!(id.matches("2394d604-afcc-4f7f-98c1-ef3676c20d6b"));
        assert!(!id.matches("2394d604-afcc-4f7f-98c1-ef3676c20d6c"));
        let listed = BookingId::parse("2394d604-afcc-4f7f-98c1-ef3676c20d6b").unwrap();
        assert_eq!(id.key(), listed.key());
    }

    #[test]
    fn rejects_what_is_not_a_uuid() {
        for bad in [
            "",
            "42",
            "bookings/2394d604-afcc-4f7f-98c1-ef3676c20d6b",
            "{2394d604-afcc-4f7f-98c1-ef3676c20d6b}",
            "2394d604afcc4f7f98c1ef3676c20d6b",
            "2394d604-afcc-4f7f-98c1-ef3676c20d6g",
            "2394d604-afcc-4f7f-98c1_ef3676c20d6b",
            " 2394d604-afcc-4f7f-98c1-ef3676c20d6b",
            "2394d604-afcc-4f7f-98c1-ef3676c20d6é",
        ] {
            assert_eq!(BookingId::parse(bad), Err(InvalidBookingId), "{bad:?}");
        }
    }
}
