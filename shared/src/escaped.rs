//! JSON written as the contents of a JSON string: the form an answer's body travels in.
//!
//! The Lambda response is a JSON document whose `body` is a string, so the answer's JSON text
//! goes out escaped once more. [`to_escaped`] writes that escaped form straight from the value,
//! in one pass: a [`serde::Serializer`] of its own, compact JSON as serde_json writes it, each
//! byte as it must appear inside the outer string.
//!
//! # Why a serializer of its own
//!
//! The first way was serde_json with a formatter that escaped serde_json's own escapes once more
//! (docs/performance.md, "One escape instead of two"). That left serde_json's string writing as
//! the largest cost of a warm page: it looks up every byte of every key and value in a table,
//! then hands the runs between escapes to the writer piece by piece, a 50-booking page being
//! ~1,600 strings. Here a string is checked eight bytes at a time ([`clean_prefix`]), and a run
//! with nothing to escape, which is nearly every key and value, is one copy: a warm page's
//! rendering went from 0.76 to 0.57 M instructions (callgrind, docs/performance.md). The output
//! is serde_json's byte for byte, escaped once: this module's tests compare the two for every
//! shape serde has and any text, the view's for whole pages of any bookings.

use std::fmt;

use serde::ser::{self, Serialize};

/// An answer's JSON text escaped as the contents of a JSON string, as [`to_escaped`] writes it.
///
/// The runtime loop sends it as it is (`lambda::Envelope`): lambda_runtime would otherwise escape
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
        // What `to_escaped` wrote is a valid string's contents, so this always parses.
        serde_json::from_str(&format!("\"{}\"", self.0)).unwrap_or_default()
    }

    /// Its size in the Lambda response, quotes included.
    pub fn encoded_len(&self) -> usize {
        self.0.len() + 2
    }
}

/// Why a value could not be written: what serde_json would refuse too.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a map key must be a string")]
    KeyNotAString,
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::Custom(message.to_string())
    }
}

/// `value`'s compact JSON (serde_json's `to_string`), escaped as a JSON string's contents.
/// `capacity` is a guess at its size: a right one spares the buffer's regrowth.
pub fn to_escaped<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<Escaped, Error> {
    let mut writer = Writer(String::with_capacity(capacity));
    value.serialize(&mut writer)?;
    Ok(Escaped(writer.0))
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
struct Writer(String);

impl Writer {
    /// Text that needs no escaping in the outer string: JSON's punctuation, digits, literals.
    #[inline]
    fn put(&mut self, piece: &str) {
        self.0.push_str(piece);
    }

    /// A JSON string: its quotes, escaped once, around its text escaped twice.
    fn string(&mut self, text: &str) {
        self.put("\\\"");
        self.contents(text);
        self.put("\\\"");
    }

    /// `text` as the inside of a JSON string, itself inside one.
    fn contents(&mut self, text: &str) {
        let mut rest = text;
        loop {
            // Each byte to escape is ASCII, so the text splits around it at character bounds.
            let (clean, after) = rest
                .split_at_checked(clean_prefix(rest.as_bytes()))
                .unwrap_or((rest, ""));
            self.put(clean);
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
                self.put("\\\\u00");
                self.0.push(char::from(HEX[usize::from(byte >> 4)]));
                self.0.push(char::from(HEX[usize::from(byte & 0xf)]));
                return;
            }
        };
        self.put(twice);
    }

    fn integer(&mut self, value: impl itoa::Integer) {
        self.put(itoa::Buffer::new().format(value));
    }

    /// As serde_json writes floats: the shortest text that reads back the same, `null` when
    /// the value is not finite.
    fn float(&mut self, value: impl zmij::Float, finite: bool) {
        if finite {
            self.put(zmij::Buffer::new().format_finite(value));
        } else {
            self.put("null");
        }
    }

    /// An object's opening and the first key of `{"variant": ...}`, as serde_json writes an
    /// enum variant that holds data.
    fn variant_key(&mut self, variant: &str) {
        self.put("{");
        self.string(variant);
        self.put(":");
    }

    /// `{"variant":` and the array or object it holds, opened; `close` ends both.
    fn variant(&mut self, variant: &str, open: &str, close: &'static str) -> Compound<'_> {
        self.variant_key(variant);
        self.put(open);
        Compound::new(self, close)
    }
}

/// What writes a displayed value into the string `collect_str` opened.
struct Contents<'a>(&'a mut Writer);

impl fmt::Write for Contents<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        self.0.contents(piece);
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.put(if value { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, value: i8) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i16(self, value: i16) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i32(self, value: i32) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i64(self, value: i64) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i128(self, value: i128) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u8(self, value: u8) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u16(self, value: u16) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u128(self, value: u128) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.float(value, value.is_finite());
        Ok(())
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        self.float(value, value.is_finite());
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.string(value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.string(value);
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(value.len()))?;
        for byte in value {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.put("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant_key(variant);
        value.serialize(&mut *self)?;
        self.put("}");
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.put("[");
        Ok(Compound::new(self, "]"))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(self.variant(variant, "[", "]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.put("{");
        Ok(Compound::new(self, "}"))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(self.variant(variant, "{", "}}"))
    }

    /// Straight into the string, as serde_json does: a timestamp is written without a `String`
    /// of its own.
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.put("\\\"");
        fmt::Write::write_fmt(&mut Contents(self), format_args!("{value}"))
            .map_err(|_| Error::Custom("a value failed to display".into()))?;
        self.put("\\\"");
        Ok(())
    }
}

/// An array or object being written: a comma before every element but the first, and what
/// closes it.
struct Compound<'a> {
    writer: &'a mut Writer,
    first: bool,
    close: &'static str,
}

impl<'a> Compound<'a> {
    fn new(writer: &'a mut Writer, close: &'static str) -> Self {
        Self {
            writer,
            first: true,
            close,
        }
    }

    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.writer.put(",");
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(&mut *self.writer)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.separate();
        self.writer.string(key);
        self.writer.put(":");
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Error> {
        self.writer.put(self.close);
        Ok(())
    }
}

/// The four kinds of array serde has: elements, a comma between each.
macro_rules! array {
    ($($kind:ident::$element:ident),*) => {$(
        impl ser::$kind for Compound<'_> {
            type Ok = ();
            type Error = Error;

            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

array!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    /// A key must come out as a string (a struct's fields flattened into a map come this way).
    /// serde_json would also quote a number or a bool; none of our answers has such a key.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        let at = self.writer.0.len();
        key.serialize(&mut *self.writer)?;
        if !self
            .writer
            .0
            .get(at..)
            .is_some_and(|key| key.starts_with("\\\""))
        {
            return Err(Error::KeyNotAString);
        }
        self.writer.put(":");
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// The two kinds of object with named fields: a struct, and an enum variant holding one.
macro_rules! object {
    ($($kind:ident),*) => {$(
        impl ser::$kind for Compound<'_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

object!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    /// What the outer document carries: serde_json's text of `value`, as a JSON string.
    fn expected<T: Serialize + ?Sized>(value: &T) -> String {
        serde_json::to_string(&serde_json::to_string(value).unwrap()).unwrap()
    }

    fn written<T: Serialize + ?Sized>(value: &T) -> String {
        format!("\"{}\"", to_escaped(value, 0).unwrap().as_str())
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, bool),
        Struct { side: f64, name: Option<String> },
    }

    #[derive(Serialize)]
    struct Wrapped(Vec<Shape>);

    #[derive(Serialize)]
    struct Inner {
        a: u8,
    }

    #[derive(Serialize)]
    struct Outer {
        #[serde(flatten)]
        inner: Inner,
        b: (),
        c: char,
        d: [u16; 2],
        #[serde(with = "serde_bytes_as_seq")]
        e: Vec<u8>,
    }

    mod serde_bytes_as_seq {
        pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }
    }

    /// Every shape serde has, as serde_json writes it: numbers at their limits, floats that are
    /// not finite, enum variants of each kind, a flattened struct, a map, bytes, unit, char.
    #[test]
    fn every_shape_is_serde_jsons_text_escaped_once() {
        let map: BTreeMap<&str, i128> = [("min", i128::MIN), ("max", i128::MAX)].into();
        let shapes = Wrapped(vec![
            Shape::Unit,
            Shape::Newtype(255),
            Shape::Tuple(i32::MIN, true),
            Shape::Struct {
                side: 0.1,
                name: Some("\"q\"".into()),
            },
            Shape::Struct {
                side: f64::NAN,
                name: None,
            },
        ]);
        let outer = Outer {
            inner: Inner { a: 7 },
            b: (),
            c: '"',
            d: [0, u16::MAX],
            e: vec![0, 34, 255],
        };
        assert_eq!(written(&shapes), expected(&shapes));
        assert_eq!(written(&outer), expected(&outer));
        assert_eq!(written(&map), expected(&map));
        assert_eq!(
            written(&(u64::MAX, -1.5e300_f64, f32::INFINITY, 1.0e-7_f32)),
            expected(&(u64::MAX, -1.5e300_f64, f32::INFINITY, 1.0e-7_f32))
        );
        let displayed = jiff::Timestamp::from_second(1_733_833_800).unwrap();
        assert_eq!(written(&displayed), expected(&displayed));
    }

    #[test]
    fn a_key_that_is_not_a_string_is_an_error() {
        let map: BTreeMap<u8, u8> = [(1, 2)].into();
        assert!(matches!(to_escaped(&map, 0), Err(Error::KeyNotAString)));
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

    proptest::proptest! {
        #[test]
        fn any_text_is_serde_jsons_escaped_once(text in ".*", key in ".*") {
            let map: BTreeMap<String, String> = [(key, text.clone())].into();
            proptest::prop_assert_eq!(written(&text), expected(&text));
            proptest::prop_assert_eq!(written(&map), expected(&map));
        }
    }
}
