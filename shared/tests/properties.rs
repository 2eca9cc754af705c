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
        let text = localized(&raw, language.as_ref());
        if !raw.trim_start().starts_with('{') {
            prop_assert_eq!(text, raw);
        }
    }

    #[test]
    fn a_language_map_gives_the_languages_entry(
        entries in proptest::collection::btree_map("[a-z]{2}", "[^\\x00]{1,20}", 1..5),
        pick in any::<proptest::sample::Index>(),
    ) {
        let raw = serde_json::to_string(&entries).unwrap();
        let (code, expected) = entries.iter().nth(pick.index(entries.len())).unwrap();
        prop_assert_eq!(localized(&raw, Language::parse(code).as_ref()), expected.clone());
        prop_assert_eq!(localized(&raw, None), entries.values().next().unwrap().clone());
    }
}
