//! The language our own words are written in: a problem's `title` and `detail`, chosen from the
//! request's `Accept-Language` (RFC 9110 §12.5.4) among the languages we write.
//!
//! OmniLab's campaign texts have their own language (the list's `language` parameter, OmniLab's
//! vocabulary); this is only about what we say ourselves.

use lambda_http::http::HeaderValue;

/// A language our problem documents are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locale {
    /// What a caller gets when it asks for nothing we write.
    #[default]
    En,
    Fr,
}

/// A longer header is not a browser's: it gets English rather than a long parse.
const MAX_HEADER_BYTES: usize = 1024;
/// Browsers send a handful of ranges; more than this are not read.
const MAX_RANGES: usize = 32;

impl Locale {
    /// The language tag of [`Locale`]'s texts, for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    /// The best of our languages for an `Accept-Language` header: the range with the highest
    /// weight that one of ours matches (`fr`, `fr-CA`, `FR`; `*` matches English), the first
    /// one on a tie; English when none does, or when the header is absent or unreadable.
    pub fn negotiate(accept_language: Option<&HeaderValue>) -> Self {
        let Some(text) = accept_language
            .filter(|value| value.len() <= MAX_HEADER_BYTES)
            .and_then(|value| value.to_str().ok())
        else {
            return Self::default();
        };
        let mut best: Option<(u16, Self)> = None;
        for range in text.split(',').take(MAX_RANGES) {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let Some(weight) = weight(parts) else {
                continue;
            };
            let Some(locale) = Self::matching(tag) else {
                continue;
            };
            if weight > 0 && best.is_none_or(|(top, _)| weight > top) {
                best = Some((weight, locale));
            }
        }
        best.map(|(_, locale)| locale).unwrap_or_default()
    }

    /// Ours for a language range: its primary subtag, case-insensitively.
    fn matching(range: &str) -> Option<Self> {
        let primary = range.split('-').next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("fr") {
            Some(Self::Fr)
        } else if primary.eq_ignore_ascii_case("en") || primary == "*" {
            Some(Self::En)
        } else {
            None
        }
    }
}

/// A range's weight in thousandths (`q=0.8` is 800; none is 1000); `None` when it is not a
/// weight RFC 9110 allows, so the range is skipped rather than guessed at.
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut weight = 1000;
    for param in params {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        let value = value.trim();
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
        weight = match whole {
            "0" => thousandths,
            "1" if thousandths == 0 => 1000,
            _ => return None,
        };
    }
    Some(weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(header: &str) -> Locale {
        Locale::negotiate(Some(&HeaderValue::from_str(header).unwrap()))
    }

    #[test]
    fn a_french_browser_gets_french() {
        assert_eq!(negotiate("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"), Locale::Fr);
        assert_eq!(negotiate("fr-CA"), Locale::Fr);
        assert_eq!(negotiate("FR"), Locale::Fr);
    }

    #[test]
    fn the_highest_weight_wins_and_the_first_on_a_tie() {
        assert_eq!(negotiate("en;q=0.5, fr;q=0.6"), Locale::Fr);
        assert_eq!(negotiate("de, fr;q=0.3, en;q=0.2"), Locale::Fr);
        assert_eq!(negotiate("en, fr"), Locale::En);
        assert_eq!(negotiate("fr, en"), Locale::Fr);
        assert_eq!(negotiate("fr;q=1.000, en;q=1"), Locale::Fr);
    }

    #[test]
    fn nothing_we_write_gets_english() {
        assert_eq!(Locale::negotiate(None), Locale::En);
        assert_eq!(negotiate(""), Locale::En);
        assert_eq!(negotiate("de-DE, ja;q=0.5"), Locale::En);
        assert_eq!(negotiate("*"), Locale::En);
        // Refused outright, q=0 is "not this one".
        assert_eq!(negotiate("fr;q=0, de"), Locale::En);
        // "french" is not "fr": the primary subtag must be exactly ours.
        assert_eq!(negotiate("french, frr"), Locale::En);
    }

    #[test]
    fn a_malformed_weight_skips_its_range_only() {
        assert_eq!(negotiate("fr;q=2, en;q=0.1"), Locale::En);
        assert_eq!(negotiate("fr;q=0.1234, de"), Locale::En);
        assert_eq!(negotiate("fr;q, de"), Locale::En);
        assert_eq!(negotiate("fr;q=abc, fr-CA;q=0.4"), Locale::Fr);
    }

    #[test]
    fn a_huge_header_gets_english_without_a_long_parse() {
        let many = vec!["de"; 40].join(",") + ",fr";
        assert_eq!(
            negotiate(&many),
            Locale::En,
            "ranges past the 32nd are not read"
        );
        let long = format!("{},fr", "x".repeat(MAX_HEADER_BYTES));
        assert_eq!(negotiate(&long), Locale::En);
        let binary = HeaderValue::from_bytes(b"fr\xff").unwrap();
        assert_eq!(Locale::negotiate(Some(&binary)), Locale::En);
    }
}
