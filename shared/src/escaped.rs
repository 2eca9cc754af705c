//! JSON written as the contents of a JSON string: the form an answer's body travels in.
//!
//! The Lambda response is a JSON document whose `body` is a string, so the answer's JSON text
//! goes out escaped once more. A [`Writer`] writes that escaped form directly, in one pass:
//! each piece of JSON as it must appear inside the outer string. The answer's own types say
//! what pieces they are made of (`view::BookingList::write`).
//!
//! # Why by hand, not through serde
//!
//! The first way was serde_json with a formatter that escaped serde_json's own escapes once
//! more (docs/performance.md, "One escape instead of two"); then a serde `Serializer` of our
//! own. Both spent most of a warm page's rendering on keys: a page has a thousand or so of
//! them, each looked through for characters to escape and copied by a `memcpy` call, when they
//! are our own field names, known when the code is compiled. Written by hand, a key is a copy
//! of a few bytes of known length. Values (OmniLab's strings) are checked eight bytes at a time
//! ([`clean_prefix`]) and copied whole when nothing needs escaping, which is nearly always.
//! The view's tests hold the result to serde_json's text of the same value, escaped once, byte
//! for byte, for whole pages of arbitrary bookings.

/// An answer's JSON text escaped as the contents of a JSON string, as a [`Writer`] writes it.
///
/// The runtime loop sends it as it is (`lambda::envelope::Envelope`): lambda_runtime would otherwise escape
/// the whole answer again to send it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Escaped(String);

impl Escaped {
    /// The escaped text, without the quotes around it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text itself, for an answer that does not go through Lambda's response document
    /// (the dev server, the tests that call the app directly).
    pub fn unescape(&self) -> String {
        // What a `Writer` wrote is a valid string's contents, so this always parses.
        serde_json::from_str(&format!("\"{}\"", self.0)).unwrap_or_default()
    }

    /// Its size in the Lambda response, quotes included.
    pub fn encoded_len(&self) -> usize {
        self.0.len() + 2
    }
}

/// Where the first byte a JSON string must escape is (a quote, a backslash or a control
/// character), or `bytes.len()` if none.
///
/// Eight bytes at a time ([`flagged`]), the last eight of a string that is not a whole number
/// of words overlapping the word before: a byte-by-byte tail was a third of this scan's cost,
/// most strings here being short. Only a text under eight bytes is looked at byte by byte.
fn clean_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    if len < 8 {
        return bytes
            .iter()
            .position(|&byte| must_escape(byte))
            .unwrap_or(len);
    }
    let mut at = 0;
    while at + 8 <= len {
        if let Some(offset) = flagged(bytes, at) {
            return at + offset;
        }
        at += 8;
    }
    // The last word's bytes before `at` were found clean, so its lowest flag is still exact.
    if at < len
        && let Some(offset) = flagged(bytes, len - 8)
    {
        return len - 8 + offset;
    }
    len
}

/// In the eight bytes from `at`, the offset of the first that must be escaped, if any.
///
/// A byte below 0x20 (or equal to a quote or a backslash, once XOR-ed to zero) borrows when
/// `0x20` (or 1) is taken from it, setting its top bit where the byte's own top bit was clear.
/// A borrow can only flag bytes above the lowest true one, so the lowest flag is exact.
#[inline]
fn flagged(bytes: &[u8], at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    let word = bytes
        .get(at..at + 8)
        .and_then(|word| <[u8; 8]>::try_from(word).ok())
        .map_or(0, u64::from_le_bytes);
    let quotes = word ^ QUOTES;
    let backslashes = word ^ BACKSLASHES;
    let flags = (word.wrapping_sub(ONES * 0x20) & !word
        | quotes.wrapping_sub(ONES) & !quotes
        | backslashes.wrapping_sub(ONES) & !backslashes)
        & TOPS;
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

fn must_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The buffer, and the writing of JSON's pieces into it. A `String`, written only `str`s, so
/// it never needs checking as UTF-8 (a pass over the whole answer).
pub struct Writer(String);

impl Writer {
    /// `capacity` is a guess at the answer's size: a right one spares the buffer's regrowth.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(String::with_capacity(capacity))
    }

    pub fn finish(self) -> Escaped {
        Escaped(self.0)
    }

    /// JSON's punctuation and literals (`{`, `,`, `]`, `true`, `null`...): text with no quote,
    /// backslash or control character, the same inside the outer string.
    #[inline]
    pub fn put(&mut self, piece: &'static str) {
        debug_assert_eq!(clean_prefix(piece.as_bytes()), piece.len(), "{piece}");
        self.0.push_str(piece);
    }

    /// `"name":`, the key of one of our own fields. A name needs no escaping (the tests would
    /// fail on one that did); given as a literal, its copy is of a length known when compiled.
    #[inline]
    pub fn key(&mut self, name: &'static str) {
        debug_assert_eq!(clean_prefix(name.as_bytes()), name.len(), "{name}");
        self.0.push_str("\\\"");
        self.0.push_str(name);
        self.0.push_str("\\\":");
    }

    /// `,"name":`, the key of a field after the first.
    #[inline]
    pub fn and_key(&mut self, name: &'static str) {
        self.put(",");
        self.key(name);
    }

    /// `[`, each of `items` as `each` writes it with a comma between, `]`.
    pub fn array<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) {
        self.put("[");
        for (n, item) in items.into_iter().enumerate() {
            if n > 0 {
                self.put(",");
            }
            each(self, item);
        }
        self.put("]");
    }

    /// A JSON string: its quotes, escaped once, around its text escaped twice.
    pub fn string(&mut self, text: &str) {
        self.0.push_str("\\\"");
        self.contents(text);
        self.0.push_str("\\\"");
    }

    pub fn integer(&mut self, value: impl itoa::Integer) {
        self.0.push_str(itoa::Buffer::new().format(value));
    }

    /// `text` as the inside of a JSON string, itself inside one.
    fn contents(&mut self, text: &str) {
        let mut rest = text;
        loop {
            // Each byte to escape is ASCII, so the text splits around it at character bounds.
            let (clean, after) = rest
                .split_at_checked(clean_prefix(rest.as_bytes()))
                .unwrap_or((rest, ""));
            self.0.push_str(clean);
            let Some(&byte) = after.as_bytes().first() else {
                return;
            };
            self.escape(byte);
            rest = after.get(1..).unwrap_or_default();
        }
    }

    /// serde_json's escape of `byte`, a backslash and a character or two, each escaped again.
    fn escape(&mut self, byte: u8) {
        let twice = match byte {
            b'"' => "\\\\\\\"",
            b'\\' => "\\\\\\\\",
            0x08 => "\\\\b",
            0x0c => "\\\\f",
            b'\n' => "\\\\n",
            b'\r' => "\\\\r",
            b'\t' => "\\\\t",
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.push_str("\\\\u00");
                self.0.push(char::from(HEX[usize::from(byte >> 4)]));
                self.0.push(char::from(HEX[usize::from(byte & 0xf)]));
                return;
            }
        };
        self.0.push_str(twice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the outer document carries for `text`: serde_json's JSON string of it, as a JSON
    /// string.
    fn expected(text: &str) -> String {
        serde_json::to_string(&serde_json::to_string(text).unwrap()).unwrap()
    }

    fn written(text: &str) -> String {
        let mut writer = Writer::with_capacity(0);
        writer.string(text);
        format!("\"{}\"", writer.finish().as_str())
    }

    /// Each byte that needs an escape, at every position of an eight-byte word and in the tail,
    /// among bytes that do not (including UTF-8's, whose top bit is set).
    #[test]
    fn the_word_at_a_time_scan_finds_each_escape_where_it_is() {
        for special in (0u8..0x20).chain([b'"', b'\\']) {
            for len in 1..24 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert_eq!(clean_prefix(&bytes), at, "{special:#x} at {at} of {len}");
                }
            }
        }
        let text = "\u{e8}\u{1f385}\u{7f} !#[]~\u{80}\u{ff}".as_bytes();
        assert_eq!(clean_prefix(text), text.len());
        assert_eq!(clean_prefix(b""), 0);
    }

    #[test]
    fn keys_numbers_and_punctuation_come_out_as_serde_json_writes_them() {
        let mut writer = Writer::with_capacity(0);
        writer.put("{");
        writer.key("total_count");
        writer.integer(u64::MAX);
        writer.put(",");
        writer.key("page_number");
        writer.integer(0_u32);
        writer.put("}");
        let json = serde_json::json!({"total_count": u64::MAX, "page_number": 0}).to_string();
        assert_eq!(
            format!("\"{}\"", writer.finish().as_str()),
            serde_json::to_string(&json).unwrap()
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_serde_jsons_escaped_once(text in ".*") {
            proptest::prop_assert_eq!(written(&text), expected(&text));
        }
    }
}
