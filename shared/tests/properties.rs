//! Property tests over everything a caller can type: the list query, the booking id, and the
//! localized strings OmniLab may send. Arbitrary input never panics; valid input round-trips;
//! invalid input is refused naming the field.

use bookings::booking_id::BookingId;
use bookings::model::BookingStatus;
use bookings::omnilab::{Language, PageRequest, Scope};
use bookings::query::{ListQuery, PARAMETERS, Pages};
use bookings::view::localized;
use proptest::prelude::*;

fn parameter_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(PARAMETERS.to_vec()).prop_map(str::to_owned),
        Just("external_id".to_owned()),
        any::<String>(),
    ]
}

fn uuid_text() -> impl Strategy<Value = String> {
    (any::<u128>(), any::<bool>()).prop_map(|(n, upper)| {
        let hex = format!("{n:032x}");
        let text = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        if upper { text.to_uppercase() } else { text }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_query_parses_or_names_a_field(pairs in proptest::collection::vec((parameter_name(), any::<String>()), 0..12)) {
        let result = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Err(error) = result {
            prop_assert!(!error.field.is_empty() || pairs.iter().any(|(k, _)| k.is_empty()));
            prop_assert!(error.field.chars().count() <= 65);
            prop_assert!(error.to_string().contains(&error.field));
        }
    }

    #[test]
    fn valid_queries_round_trip(
        scope in prop_oneof![
            Just(Scope::AllCampaigns),
            "[A-Za-z0-9._~-]{1,40}".prop_map(Scope::PublicKey),
            uuid_text().prop_map(|u| Scope::Interaction(format!("interactions/{}", u.to_lowercase()))),
        ],
        from in proptest::option::of(0i64..4_000_000_000),
        span in 0i64..100_000_000,
        has_to in any::<bool>(),
        statuses in proptest::sample::subsequence(BookingStatus::ALL.to_vec(), 0..=3),
        language in proptest::option::of("[a-z]{2,3}"),
        size in 1u32..=100,
        number in 1u32..=10_000,
        all in any::<bool>(),
    ) {
        let from_ts = from.map(|s| jiff::Timestamp::from_second(s).unwrap());
        let to_ts = has_to.then(|| jiff::Timestamp::from_second(from.unwrap_or(0) + span).unwrap());
        let mut pairs: Vec<(String, String)> = Vec::new();
        match &scope {
            Scope::AllCampaigns => {}
            Scope::PublicKey(key) => pairs.push(("public_keys".into(), key.clone())),
            Scope::Interaction(name) => pairs.push(("interactions".into(), name.clone())),
        }
        if let Some(t) = from_ts { pairs.push(("slot_date_range.from".into(), t.to_string())); }
        if let Some(t) = to_ts { pairs.push(("slot_date_range.to".into(), t.to_string())); }
        for status in &statuses { pairs.push(("booking_status".into(), status.as_str().into())); }
        if let Some(l) = &language { pairs.push(("language".into(), format!("{l}-XX"))); }
        if all {
            pairs.push(("all".into(), "true".into()));
        } else {
            pairs.push(("page_size".into(), size.to_string()));
            pairs.push(("page_number".into(), number.to_string()));
        }

        let query = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let mut sorted = statuses.clone();
        sorted.sort();
        prop_assert_eq!(query.filter.scope, scope);
        prop_assert_eq!(query.filter.slot_from, from_ts);
        prop_assert_eq!(query.filter.slot_to, to_ts);
        prop_assert_eq!(query.filter.statuses, sorted);
        prop_assert_eq!(query.filter.language, language.as_deref().and_then(Language::parse));
        prop_assert_eq!(query.pages, if all { Pages::All } else { Pages::One(PageRequest { number, size }) });
    }

    #[test]
    fn out_of_range_pages_name_their_field(size in prop_oneof![Just(0u64), 101u64..u64::MAX]) {
        let text = size.to_string();
        let error = ListQuery::parse([("page_size", text.as_str())]).unwrap_err();
        prop_assert_eq!(error.field, "page_size");
    }

    #[test]
    fn any_booking_id_text_is_checked_without_panic(text in any::<String>()) {
        if let Ok(id) = BookingId::parse(&text) {
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert_eq!(text.len(), 36);
        }
    }

    #[test]
    fn every_uuid_is_accepted_verbatim(text in uuid_text()) {
        let id = BookingId::parse(&text).unwrap();
        prop_assert_eq!(id.as_str(), text.as_str());
        prop_assert!(id.matches(&text.to_lowercase()));
    }

    #[test]
    fn localized_text_never_panics(raw in any::<String>(), language in proptest::option::of("[a-z]{2}")) {
        let language = language.as_deref().and_then(Language::parse);
        let text = localized(raw.as_str().into(), language.as_ref());
        if !raw.trim_start().starts_with('{') {
            prop_assert_eq!(text, raw.as_str());
        }
    }

    #[test]
    fn a_language_map_gives_the_languages_entry(
        entries in proptest::collection::btree_map("[a-z]{2}", "[^\\x00]{1,20}", 1..5),
        pick in any::<proptest::sample::Index>(),
    ) {
        let raw = serde_json::to_string(&entries).unwrap();
        let (code, expected) = entries.iter().nth(pick.index(entries.len())).unwrap();
        prop_assert_eq!(localized(raw.as_str().into(), Language::parse(code).as_ref()), expected.as_str());
        prop_assert_eq!(localized(raw.as_str().into(), None), entries.values().next().unwrap().as_str());
    }
}

/// A time as a caller might type one: RFC 3339, or one of the ISO 8601 and Temporal forms
/// around it. The flag says whether the form (not the values) is RFC 3339's.
fn typed_time() -> impl Strategy<Value = (String, bool)> {
    let year = prop_oneof![
        (0u32..=9999).prop_map(|y| (format!("{y:04}"), true)),
        (0u32..=999_999).prop_map(|y| (format!("-{y:06}"), false)),
        (0u32..=999_999).prop_map(|y| (format!("+{y:06}"), false)),
        (0u32..=999).prop_map(|y| (format!("{y}"), false)),
    ];
    let separator = prop_oneof![Just(("T", true)), Just(("t", true)), Just((" ", false))];
    let seconds = prop_oneof![
        (0u32..=61).prop_map(|s| (format!(":{s:02}"), true)),
        Just((String::new(), false)),
    ];
    let fraction = prop_oneof![
        Just((String::new(), true)),
        (1usize..=12).prop_map(|n| (format!(".{}", "7".repeat(n)), true)),
        Just((".".to_owned(), false)),
    ];
    let offset = prop_oneof![
        Just(("Z".to_owned(), true)),
        Just(("z".to_owned(), true)),
        (0u32..=25, 0u32..=60, any::<bool>()).prop_map(|(h, m, east)| (
            format!("{}{h:02}:{m:02}", if east { '+' } else { '-' }),
            true
        )),
        (0u32..=23, 0u32..=59).prop_map(|(h, m)| (format!("+{h:02}{m:02}"), false)),
        (0u32..=23).prop_map(|h| (format!("+{h:02}"), false)),
        Just(("Z[Europe/Paris]".to_owned(), false)),
        Just((String::new(), false)),
    ];
    (
        year,
        1u32..=13,
        1u32..=32,
        separator,
        0u32..=24,
        0u32..=60,
        seconds,
        fraction,
        offset,
    )
        .prop_map(
            |((y, y_ok), mo, d, (sep, sep_ok), h, mi, (s, s_ok), (f, f_ok), (o, o_ok))| {
                // A fraction only follows seconds.
                let f_ok = f_ok && (f.is_empty() || s_ok);
                let text = format!("{y}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}{s}{f}{o}");
                (text, y_ok && sep_ok && s_ok && f_ok && o_ok)
            },
        )
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`: RFC 3339 in UTC, the form the reference page documents.
fn is_utc_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let head = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    head && b.last() == Some(&b'Z')
        && match &b[19..b.len() - 1] {
            [] => true,
            [b'.', fraction @ ..] => {
                !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// Whatever we accept is RFC 3339 and goes upstream as RFC 3339 in UTC, the
    /// same instant; whatever we refuse is refused naming the parameter, before any call.
    #[test]
    fn only_rfc_3339_reaches_omnilab((text, rfc_form) in typed_time(), to in any::<bool>()) {
        let field = if to { "slot_date_range.to" } else { "slot_date_range.from" };
        match ListQuery::parse([(field, text.as_str())]) {
            Ok(query) => {
                prop_assert!(rfc_form, "accepted a form RFC 3339 does not have: {text}");
                let time = if to { query.filter.slot_to } else { query.filter.slot_from };
                let time = time.expect("the time is kept");
                let sent = time.to_string();
                prop_assert!(is_utc_rfc3339(&sent), "{text} is sent as {sent}");
                prop_assert_eq!(sent.parse::<jiff::Timestamp>().ok(), Some(time));
            }
            Err(error) => prop_assert_eq!(error.field, field, "{}", text),
        }
    }
}
