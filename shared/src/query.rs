//! The query of `GET /bookings`, validated before anything is sent upstream.

use jiff::Timestamp;

use crate::booking_id::InvalidBookingId;
use crate::model::BookingStatus;
use crate::omnilab::{BookingFilter, Language, PageRequest, Scope};

/// A list request of our API, every field checked: which bookings (OmniLab's filter, which
/// it will accept as it is) and how to page through them.
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    pub filter: BookingFilter,
    pub pages: Pages,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    One(PageRequest),
    /// Every page. The page size is ours to choose (OmniLab's largest), not the caller's: a
    /// small one would only multiply the round trips.
    All,
}

/// One request parameter was wrong; `field` names it so the caller can fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidParameter {
    pub field: String,
    pub reason: Reason,
}

/// What was wrong with a parameter. Its `Display` is the English wording our logs carry; the
/// customer's wording, in their language, is chosen where answers are written (`api::problem`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    IdentifiedBySignIn,
    NotOnThisRoute,
    Unknown,
    Repeated,
    OneValue,
    BookingStatus,
    PublicKey,
    KeysWithInteractions,
    Interaction,
    Timestamp,
    FromAfterTo,
    LanguageCode,
    PageSize,
    PageNumber,
    TrueOrFalse,
    PageNumberWithAll,
    PageSizeWithAll,
    BookingId,
}

impl Reason {
    /// The reason in English, as our logs carry it.
    pub fn english(self) -> &'static str {
        match self {
            Self::IdentifiedBySignIn => {
                "is not accepted: the customer is identified by their sign-in"
            }
            Self::NotOnThisRoute => "is not accepted by this route",
            Self::Unknown => "is not a known parameter",
            Self::Repeated => "must be given once",
            Self::OneValue => "takes only one value",
            Self::BookingStatus => "must be CONFIRMED, WAITLIST or CANCELLED",
            Self::PublicKey => "must be a campaign public key",
            Self::KeysWithInteractions => "cannot be combined with interactions",
            Self::Interaction => "must be a resource name such as interactions/<uuid>",
            Self::Timestamp => "must be an RFC 3339 timestamp such as 2024-12-10T12:30:00Z",
            Self::FromAfterTo => "must not be after slot_date_range.to",
            Self::LanguageCode => "must be a language code such as en or fr",
            Self::PageSize => "must be a whole number from 1 to 100",
            Self::PageNumber => "must be a whole number from 1",
            Self::TrueOrFalse => "must be true or false",
            Self::PageNumberWithAll => "cannot be combined with all=true",
            Self::PageSizeWithAll => {
                "cannot be combined with all=true, which always pages at the largest size"
            }
            Self::BookingId => InvalidBookingId::REASON,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.english())
    }
}

impl InvalidParameter {
    pub fn new(field: &str, reason: Reason) -> Self {
        // A field name is echoed back and logged: keep a hostile one from making the answer
        // huge, and escape control characters so it cannot forge a line in a text log.
        const MAX_CHARS: usize = 64;
        let mut escaped = String::with_capacity(field.len().min(4 * MAX_CHARS));
        let mut chars = 0;
        for c in field.chars() {
            let piece: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            if chars + piece.len() > MAX_CHARS {
                escaped.push('…');
                break;
            }
            chars += piece.len();
            escaped.extend(piece);
        }
        Self {
            field: escaped,
            reason,
        }
    }
}

/// Every parameter `GET /bookings` accepts (the OpenAPI document is checked against this list).
pub const PARAMETERS: [&str; 9] = [
    "public_keys",
    "interactions",
    "slot_date_range.from",
    "slot_date_range.to",
    "booking_status",
    "language",
    "page_size",
    "page_number",
    "all",
];

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 100;

impl ListQuery {
    /// Validates the query pairs as they came in the URL (repeats kept, in order).
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, InvalidParameter> {
        let mut raw = Raw::default();
        for (name, value) in pairs {
            let slot = match name {
                // Identity comes only from sign-in: never let a caller name whose bookings to read.
                "external_id" => {
                    return Err(InvalidParameter::new(name, Reason::IdentifiedBySignIn));
                }
                "public_keys" => &mut raw.public_keys,
                "interactions" => &mut raw.interactions,
                "slot_date_range.from" => &mut raw.from,
                "slot_date_range.to" => &mut raw.to,
                "language" => &mut raw.language,
                "page_size" => &mut raw.page_size,
                "page_number" => &mut raw.page_number,
                "all" => &mut raw.all,
                "booking_status" => {
                    // API Gateway joins repeated parameters with commas; accept both spellings.
                    for status in value.split(',') {
                        let status = BookingStatus::parse(status.trim())
                            .ok_or_else(|| InvalidParameter::new(name, Reason::BookingStatus))?;
                        if !raw.statuses.contains(&status) {
                            raw.statuses.push(status);
                        }
                    }
                    continue;
                }
                _ => return Err(InvalidParameter::new(name, Reason::Unknown)),
            };
            if slot.replace(value).is_some() {
                return Err(InvalidParameter::new(name, Reason::Repeated));
            }
        }
        raw.validate()
    }
}

#[derive(Default)]
struct Raw<'a> {
    public_keys: Option<&'a str>,
    interactions: Option<&'a str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    statuses: Vec<BookingStatus>,
    language: Option<&'a str>,
    page_size: Option<&'a str>,
    page_number: Option<&'a str>,
    all: Option<&'a str>,
}

impl Raw<'_> {
    fn validate(mut self) -> Result<ListQuery, InvalidParameter> {
        let scope = match (self.public_keys, self.interactions) {
            (Some(_), Some(_)) => {
                return Err(InvalidParameter::new(
                    "public_keys",
                    Reason::KeysWithInteractions,
                ));
            }
            (Some(key), None) => Scope::PublicKey(public_key(key)?),
            (None, Some(name)) => Scope::Interaction(interaction(name)?),
            (None, None) => Scope::AllCampaigns,
        };
        let slot_from = self
            .from
            .map(|t| timestamp("slot_date_range.from", t))
            .transpose()?;
        let slot_to = self
            .to
            .map(|t| timestamp("slot_date_range.to", t))
            .transpose()?;
        if let (Some(from), Some(to)) = (slot_from, slot_to)
            && from > to
        {
            return Err(InvalidParameter::new(
                "slot_date_range.from",
                Reason::FromAfterTo,
            ));
        }
        let language = self
            .language
            .map(|l| {
                Language::parse(l)
                    .ok_or_else(|| InvalidParameter::new("language", Reason::LanguageCode))
            })
            .transpose()?;
        let size = self
            .page_size
            .map(|s| number("page_size", s, 1..=MAX_PAGE_SIZE, Reason::PageSize))
            .transpose()?;
        let all = match self.all {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(InvalidParameter::new("all", Reason::TrueOrFalse)),
        };
        let pages = match (all, self.page_number, size) {
            (true, Some(_), _) => {
                return Err(InvalidParameter::new(
                    "page_number",
                    Reason::PageNumberWithAll,
                ));
            }
            (true, None, Some(_)) => {
                return Err(InvalidParameter::new("page_size", Reason::PageSizeWithAll));
            }
            (true, None, None) => Pages::All,
            (false, number_text, size) => Pages::One(PageRequest {
                number: number_text
                    .map(|n| number("page_number", n, 1..=u32::MAX, Reason::PageNumber))
                    .transpose()?
                    .unwrap_or(1),
                size: size.unwrap_or(DEFAULT_PAGE_SIZE),
            }),
        };
        self.statuses.sort_unstable();
        Ok(ListQuery {
            filter: BookingFilter {
                scope,
                slot_from,
                slot_to,
                statuses: self.statuses,
                language,
            },
            pages,
        })
    }
}

fn public_key(text: &str) -> Result<String, InvalidParameter> {
    if text.contains(',') {
        return Err(InvalidParameter::new("public_keys", Reason::OneValue));
    }
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    ok.then(|| text.to_owned())
        .ok_or_else(|| InvalidParameter::new("public_keys", Reason::PublicKey))
}

fn interaction(text: &str) -> Result<String, InvalidParameter> {
    if text.contains(',') {
        return Err(InvalidParameter::new("interactions", Reason::OneValue));
    }
    text.strip_prefix("interactions/")
        .filter(|id| crate::booking_id::BookingId::parse(id).is_ok())
        .map(|_| text.to_owned())
        .ok_or_else(|| InvalidParameter::new("interactions", Reason::Interaction))
}

fn timestamp(field: &'static str, text: &str) -> Result<Timestamp, InvalidParameter> {
    rfc3339(text).ok_or_else(|| InvalidParameter::new(field, Reason::Timestamp))
}

/// An RFC 3339 `date-time` and nothing more: four-digit years, seconds, an offset of `Z` or
/// `±hh:mm`. jiff alone also takes ISO 8601 and Temporal forms (signed six-digit years, a
/// missing seconds field, `+0100`, bracketed time zones), which OmniLab refuses; and the
/// instant must still have a four-digit year in UTC, the form OmniLab is sent.
fn rfc3339(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let at = |index: usize, allowed: &[u8]| bytes.get(index).is_some_and(|b| allowed.contains(b));
    // full-date "T" partial-time, up to the seconds: 2024-12-10T12:30:00
    let date_and_time = digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"Tt")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19);
    if !date_and_time {
        return None;
    }
    let mut rest = &bytes[19..];
    if let [b'.', fraction @ ..] = rest {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        rest = &fraction[count..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    if !offset {
        return None;
    }
    let timestamp: Timestamp = text.parse().ok()?;
    // Sent as RFC 3339 in UTC: an offset must not carry the instant out of years 0000-9999
    // (0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, in Unix seconds).
    const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<i64> = -62_167_219_200..=253_402_300_799;
    FOUR_DIGIT_YEARS
        .contains(&timestamp.as_second())
        .then_some(timestamp)
}

fn number(
    field: &'static str,
    text: &str,
    range: std::ops::RangeInclusive<u32>,
    reason: Reason,
) -> Result<u32, InvalidParameter> {
    text.parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| InvalidParameter::new(field, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<ListQuery, InvalidParameter> {
        ListQuery::parse(query.iter().copied())
    }

    fn field_of(query: &[(&str, &str)]) -> String {
        parse(query).unwrap_err().field
    }

    #[test]
    fn an_empty_query_lists_the_first_page_across_campaigns() {
        let q = parse(&[]).unwrap();
        assert_eq!(q.filter.scope, Scope::AllCampaigns);
        assert_eq!(
            q.pages,
            Pages::One(PageRequest {
                number: 1,
                size: 50
            })
        );
        assert!(q.filter.statuses.is_empty());
    }

    #[test]
    fn the_account_page_query() {
        let q = parse(&[
            ("public_keys", "winter-festival"),
            ("booking_status", "CONFIRMED"),
            ("slot_date_range.from", "2024-12-10T13:30:00+01:00"),
            ("language", "fr-CA"),
            ("page_size", "20"),
            ("page_number", "3"),
        ])
        .unwrap();
        assert_eq!(q.filter.scope, Scope::PublicKey("winter-festival".into()));
        assert_eq!(q.filter.statuses, vec![BookingStatus::Confirmed]);
        assert_eq!(
            q.filter.slot_from.unwrap().to_string(),
            "2024-12-10T12:30:00Z"
        );
        assert_eq!(q.filter.language.unwrap().as_str(), "fr");
        assert_eq!(
            q.pages,
            Pages::One(PageRequest {
                number: 3,
                size: 20
            })
        );
    }

    #[test]
    fn slot_times_are_rfc_3339_and_nothing_else() {
        for accepted in [
            "2024-12-10T12:30:00Z",
            "2024-12-10t12:30:00z",
            "2024-12-10T12:30:00.5+01:00",
            "2024-12-10T12:30:00.123456789-05:30",
            "0000-01-01T00:00:00Z",
            // jiff's last instant is 9999-12-30T22:00:00Z: later ones are refused, not wrapped.
            "9999-12-30T12:00:00Z",
        ] {
            let query = parse(&[("slot_date_range.from", accepted)]).expect(accepted);
            let sent = query.filter.slot_from.expect("a time").to_string();
            assert!(
                sent.ends_with('Z') && sent.as_bytes()[4] == b'-',
                "{accepted} -> {sent}"
            );
        }
        for refused in [
            "-000001-01-01T00:00:00Z",
            "+002024-12-10T12:30:00Z",
            "2024-12-10T12:30Z",
            "2024-12-10T12:30:00+0100",
            "2024-12-10T12:30:00+01",
            "2024-12-10T12:30:00",
            "2024-12-10 12:30:00Z",
            "2024-12-10T12:30:00Z[Europe/Paris]",
            "2024-12-10T12:30:00.Z",
            "20241210T123000Z",
            "2024-13-10T12:30:00Z",
            "0000-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "２０２４-12-10T12:30:00Z",
        ] {
            assert_eq!(
                field_of(&[("slot_date_range.to", refused)]),
                "slot_date_range.to",
                "{refused}"
            );
        }
    }

    #[test]
    fn statuses_repeat_or_come_comma_joined() {
        let repeated = parse(&[
            ("booking_status", "WAITLIST"),
            ("booking_status", "CONFIRMED"),
        ])
        .unwrap();
        let joined = parse(&[("booking_status", "CONFIRMED,WAITLIST,CONFIRMED")]).unwrap();
        assert_eq!(
            repeated.filter.statuses,
            vec![BookingStatus::Confirmed, BookingStatus::Waitlist]
        );
        assert_eq!(joined.filter.statuses, repeated.filter.statuses);
        assert_eq!(
            field_of(&[("booking_status", "CONFIRMED,BOOKED")]),
            "booking_status"
        );
        assert_eq!(field_of(&[("booking_status", "")]), "booking_status");
    }

    #[test]
    fn one_campaign_at_a_time() {
        assert_eq!(
            field_of(&[
                ("public_keys", "a"),
                (
                    "interactions",
                    "interactions/2394d604-afcc-4f7f-98c1-ef3676c20d6b"
                )
            ]),
            "public_keys"
        );
        assert_eq!(
            field_of(&[("public_keys", "a"), ("public_keys", "b")]),
            "public_keys"
        );
        assert_eq!(field_of(&[("public_keys", "a,b")]), "public_keys");
        assert_eq!(
            field_of(&[("interactions", "2394d604-afcc-4f7f-98c1-ef3676c20d6b")]),
            "interactions"
        );
        let q = parse(&[(
            "interactions",
            "interactions/2394d604-afcc-4f7f-98c1-ef3676c20d6b",
        )])
        .unwrap();
        assert_eq!(
            q.filter.scope,
            Scope::Interaction("interactions/2394d604-afcc-4f7f-98c1-ef3676c20d6b".into())
        );
    }

    #[test]
    fn identity_never_comes_from_the_query() {
        assert_eq!(field_of(&[("external_id", "someone-else")]), "external_id");
    }

    #[test]
    fn date_range_must_be_rfc3339_and_ordered() {
        assert_eq!(
            field_of(&[("slot_date_range.from", "2024-12-10")]),
            "slot_date_range.from"
        );
        assert_eq!(
            field_of(&[("slot_date_range.to", "2024-12-10T12:30:00")]),
            "slot_date_range.to"
        );
        assert_eq!(
            field_of(&[
                ("slot_date_range.from", "2024-12-11T00:00:00Z"),
                ("slot_date_range.to", "2024-12-10T00:00:00Z")
            ]),
            "slot_date_range.from"
        );
    }

    #[test]
    fn paging_is_bounded() {
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(field_of(&[("page_size", bad)]), "page_size", "{bad:?}");
        }
        assert_eq!(field_of(&[("page_number", "0")]), "page_number");
        assert_eq!(
            field_of(&[("all", "true"), ("page_number", "2")]),
            "page_number"
        );
        assert_eq!(field_of(&[("all", "yes")]), "all");
        assert_eq!(parse(&[("all", "true")]).unwrap().pages, Pages::All);
        assert_eq!(
            field_of(&[("all", "true"), ("page_size", "1")]),
            "page_size",
            "all=true pages at the largest size, so a page size is refused, not obeyed"
        );
    }

    #[test]
    fn control_characters_in_a_name_are_escaped() {
        let field = field_of(&[("x\nINFO forged line\r\u{1b}[2J", "1")]);
        assert_eq!(field, "x\\nINFO forged line\\r\\u{1b}[2J");
        assert!(!field.chars().any(char::is_control));
        // Escaping cannot make the echoed name long again.
        let hostile = "\u{1}".repeat(1000);
        assert!(field_of(&[(&hostile, "1")]).chars().count() <= 65);
    }

    #[test]
    fn unknown_parameters_are_named() {
        assert_eq!(field_of(&[("page-size", "10")]), "page-size");
        let long = "x".repeat(10_000);
        assert!(field_of(&[(&long, "1")]).chars().count() <= 65);
    }

    #[test]
    fn every_listed_parameter_is_accepted_and_nothing_else() {
        for name in PARAMETERS {
            let value = match name {
                "interactions" => "interactions/2394d604-afcc-4f7f-98c1-ef3676c20d6b",
                "slot_date_range.from" | "slot_date_range.to" => "2024-12-10T12:30:00Z",
                "booking_status" => "CONFIRMED",
                "language" => "en",
                "page_size" | "page_number" => "2",
                "all" => "false",
                _ => "winter-festival",
            };
            assert!(parse(&[(name, value)]).is_ok(), "{name}");
        }
        assert_eq!(field_of(&[("external_id", "x")]), "external_id");
    }

    #[test]
    fn languages_reduce_to_their_base() {
        assert_eq!(Language::parse("EN").unwrap().as_str(), "en");
        assert_eq!(Language::parse("fr_CA").unwrap().as_str(), "fr");
        assert_eq!(Language::parse("e"), None);
        assert_eq!(Language::parse("english"), None);
        assert_eq!(field_of(&[("language", "12")]), "language");
    }
}
