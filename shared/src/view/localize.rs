//! OmniLab's localized strings resolved to plain text.

use std::borrow::Cow;

use crate::omnilab::Language;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(code: &str) -> Language {
        Language::parse(code).unwrap()
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
}
