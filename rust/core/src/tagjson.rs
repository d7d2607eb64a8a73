//! The Flexy tag-JSON format: `[{"tag":"T1","value":12.5,"time":"2024-05-01 13:45:10"}]`.
//!
//! [`encode`] and [`encode_into`] write it, [`decode`] reads it, and
//! [`format_time`] renders the `time` field.
//!
//! The decoder is a small hand-written parser rather than
//! `serde_json::Value`, for three reasons that matter on a Flexy:
//!
//! - exact numbers: serde_json without its `float_roundtrip` feature can
//!   round the last digit of a float (about a third of random doubles come back
//!   different), which would break `decode(encode(x)) == x`; the standard
//!   library's `f64` parser is correctly rounded;
//! - memory: tags are built straight from the payload, without an intermediate
//!   tree of maps (the device has a 25 MB heap);
//! - hostile input: nesting is walked with a loop, never recursion, so a
//!   payload of 100 000 `[` cannot overflow the stack; it is rejected with
//!   [`TagJsonError::TooDeep`] past [`MAX_DEPTH`] levels.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Deepest nesting [`decode`] accepts, counting the outer array as level 1.
///
/// Tag JSON itself needs 2; the rest is room for ignored extra keys. The
/// number matches serde_json's default recursion limit.
pub const MAX_DEPTH: usize = 128;

/// Largest magnitude below which every integer is exactly representable as an
/// `f64` (2^53); integral values up to it are written without a fraction.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Below this magnitude a fraction is written in exponent form (`1e-7`), so
/// tiny values do not print hundreds of zeros.
const SMALLEST_PLAIN_FRACTION: f64 = 1e-6;

/// The value of one tag.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    /// A number; NaN and ±infinity are written as `null`, as JSON has no
    /// spelling for them.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string value.
    Text(String),
    /// JSON `null`: the tag has no value.
    Null,
}

/// One decoded element of a tag-JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The tag name (the `tag` key).
    pub name: String,
    /// The tag value (the `value` key).
    pub value: TagValue,
    /// The `time` key as written, if the element had one; [`decode`] does not
    /// interpret it.
    pub time: Option<String>,
}

/// The kind of a JSON value, named in errors about a value of the wrong kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        })
    }
}

/// Why one element of a well-formed payload is not a tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagProblem {
    /// The element is not a JSON object.
    #[error("expected an object like {{\"tag\":\"T1\",\"value\":1}}, found {found}")]
    NotAnObject {
        /// What the element is instead.
        found: JsonType,
    },
    /// The object has no `tag` key.
    #[error("it has no \"tag\" key")]
    MissingName,
    /// The `tag` key is not a string.
    #[error("\"tag\" must be a string, found {found}")]
    NameNotString {
        /// What the `tag` key holds instead.
        found: JsonType,
    },
    /// The object has no `value` key.
    #[error("it has no \"value\" key")]
    MissingValue,
    /// The `value` key is an array or an object.
    #[error("\"value\" must be a number, boolean, string or null, found {found}")]
    ValueNotScalar {
        /// What the `value` key holds instead.
        found: JsonType,
    },
    /// The `time` key is present but not a string.
    #[error("\"time\" must be a string, found {found}")]
    TimeNotString {
        /// What the `time` key holds instead.
        found: JsonType,
    },
}

/// Why tag JSON could not be encoded or decoded.
///
/// Positions (`line`, `column`) are 1-based; `column` counts bytes, as
/// serde_json's does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TagJsonError {
    /// [`encode`] was given a different number of names and values.
    #[error("{names} tag names but {values} values: each tag needs exactly one value")]
    LengthMismatch {
        /// Number of names given.
        names: usize,
        /// Number of values given.
        values: usize,
    },
    /// A binding received a null tag name (Rust callers cannot produce this;
    /// it lets the JNI and C layers report the index through the same error).
    #[error("tag name at index {index} is null")]
    NullName {
        /// Index of the null name in the caller's array.
        index: usize,
    },
    /// The payload is not JSON: a syntax error, truncation or invalid UTF-8.
    #[error("tag JSON is malformed at line {line}, column {column}: {reason}")]
    Malformed {
        /// Line of the first offending byte.
        line: usize,
        /// Column (in bytes) of the first offending byte.
        column: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// The payload nests arrays and objects deeper than [`MAX_DEPTH`].
    #[error("tag JSON nests deeper than {max_depth} levels at line {line}, column {column}")]
    TooDeep {
        /// The limit that was exceeded.
        max_depth: usize,
        /// Line of the opening bracket that went too deep.
        line: usize,
        /// Column (in bytes) of that bracket.
        column: usize,
    },
    /// The payload is JSON but neither an array nor an object.
    #[error("tag JSON must be an array of tag objects or a single tag object, found {found}")]
    NotArrayOrObject {
        /// What the payload is instead.
        found: JsonType,
    },
    /// One element of the payload is not a valid tag.
    #[error("tag JSON element {index} is not a tag: {problem}")]
    NotATag {
        /// 0-based index of the element in the array (0 for a single object).
        index: usize,
        /// What is wrong with it.
        problem: TagProblem,
    },
}

/// Appends the tag-JSON array for `tags` to `out`, so callers can reuse one
/// buffer (the device has a 25 MB heap).
///
/// Every element gets the same `time`, [`format_time`]`(epoch_millis,
/// utc_offset_minutes)`. Output has no whitespace and keys in the order
/// `tag`, `value`, `time`; an empty iterator gives `[]`.
///
/// # Errors
///
/// None for Rust callers today (every `&str` and [`TagValue`] is encodable);
/// the `Result` keeps room for limits without breaking callers.
pub fn encode_into<'a>(
    out: &mut String,
    tags: impl IntoIterator<Item = (&'a str, &'a TagValue)>,
    epoch_millis: i64,
    utc_offset_minutes: i32,
) -> Result<(), TagJsonError> {
    let time = format_time(epoch_millis, utc_offset_minutes);
    out.push('[');
    for (index, (name, value)) in tags.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"tag\":");
        push_json_string(out, name);
        out.push_str(",\"value\":");
        push_value(out, value);
        // The time is digits, '-', ':' and ' ' only: nothing to escape.
        out.push_str(",\"time\":\"");
        out.push_str(&time);
        out.push_str("\"}");
    }
    out.push(']');
    Ok(())
}

/// Encodes `names[i]` with `values[i]` as a tag-JSON array; see
/// [`encode_into`] for the format.
///
/// # Errors
///
/// [`TagJsonError::LengthMismatch`] when the slices differ in length.
pub fn encode(
    names: &[&str],
    values: &[TagValue],
    epoch_millis: i64,
    utc_offset_minutes: i32,
) -> Result<String, TagJsonError> {
    if names.len() != values.len() {
        return Err(TagJsonError::LengthMismatch {
            names: names.len(),
            values: values.len(),
        });
    }
    let mut out = String::with_capacity(encoded_size_hint(names, values));
    encode_into(
        &mut out,
        names.iter().copied().zip(values),
        epoch_millis,
        utc_offset_minutes,
    )?;
    Ok(out)
}

/// Decodes a tag-JSON payload: an array of tag objects, or a single tag object
/// (which gives one tag).
///
/// Each object needs a string `tag` and a `value` that is a number, boolean,
/// string or null; `time` is optional but must be a string if present; other
/// keys are ignored. Duplicate keys keep the last occurrence.
///
/// # Errors
///
/// The first problem in document order: [`TagJsonError::Malformed`] for
/// invalid JSON (including truncation and invalid UTF-8),
/// [`TagJsonError::TooDeep`], [`TagJsonError::NotArrayOrObject`], or
/// [`TagJsonError::NotATag`] naming the element's index.
pub fn decode(payload: &[u8]) -> Result<Vec<Tag>, TagJsonError> {
    let text = std::str::from_utf8(payload)
        .map_err(|error| malformed_at(payload, error.valid_up_to(), "invalid UTF-8"))?;
    let mut parser = Parser { text, pos: 0 };
    // RFC 8259 lets parsers ignore a byte order mark; some Windows tools add one.
    if text.starts_with('\u{feff}') {
        parser.pos = '\u{feff}'.len_utf8();
    }
    parser.skip_whitespace();
    let tags = match parser.value_type()? {
        JsonType::Array => parser.tag_array()?,
        JsonType::Object => vec![parser.tag_object(0, 1)?],
        found => return Err(TagJsonError::NotArrayOrObject { found }),
    };
    parser.skip_whitespace();
    if parser.pos != payload.len() {
        return Err(parser.malformed("unexpected characters after the JSON value"));
    }
    Ok(tags)
}

/// Formats `epoch_millis` (milliseconds since 1970-01-01 00:00:00 UTC) shifted
/// by `utc_offset_minutes` as `YYYY-MM-DD HH:MM:SS` in the proleptic Gregorian
/// calendar.
///
/// Milliseconds are dropped (rounding towards the past, also before 1970).
/// Years outside 0..=9999 are written with as many digits as they need and a
/// leading `-` when negative. Never panics, for any input.
pub fn format_time(epoch_millis: i64, utc_offset_minutes: i32) -> String {
    // i128 so that any i64 plus any offset cannot overflow.
    let local_millis = i128::from(epoch_millis) + i128::from(utc_offset_minutes) * 60_000;
    let seconds = local_millis.div_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let mut out = String::with_capacity(19);
    // Writing to a String cannot fail.
    let _ = if year < 0 {
        write!(out, "-{:04}", -year)
    } else {
        write!(out, "{year:04}")
    };
    let _ = write!(
        out,
        "-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
    );
    out
}

/// Converts days since 1970-01-01 to (year, month, day), following Howard
/// Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    // Ranges: day_of_era [0, 146096], year_of_era [0, 399], day_of_year [0, 365].
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// Bytes [`encode`] will most likely need, so the buffer is allocated once.
fn encoded_size_hint(names: &[&str], values: &[TagValue]) -> usize {
    // `,{"tag":"","value":,"time":"YYYY-MM-DD HH:MM:SS"}` without name and value.
    const FIXED_PER_TAG: usize = 50;
    const TYPICAL_SCALAR: usize = 8;
    let name_bytes: usize = names.iter().map(|name| name.len()).sum();
    let value_bytes: usize = values
        .iter()
        .map(|value| match value {
            TagValue::Text(text) => text.len() + 2,
            _ => TYPICAL_SCALAR,
        })
        .sum();
    2 + name_bytes + value_bytes + FIXED_PER_TAG * names.len()
}

fn push_value(out: &mut String, value: &TagValue) {
    match value {
        TagValue::Number(number) => push_number(out, *number),
        TagValue::Bool(true) => out.push_str("true"),
        TagValue::Bool(false) => out.push_str("false"),
        TagValue::Text(text) => push_json_string(out, text),
        TagValue::Null => out.push_str("null"),
    }
}

/// Writes `number` in the shortest form that reads back as the same `f64`.
fn push_number(out: &mut String, number: f64) {
    let magnitude = number.abs();
    if !number.is_finite() {
        out.push_str("null");
        return;
    }
    // Writing to a String cannot fail.
    let _ = if number.fract() == 0.0 && magnitude <= MAX_EXACT_INTEGER {
        // Exact: |number| <= 2^53 fits i64; -0.0 becomes 0.
        write!(out, "{}", number as i64)
    } else if (SMALLEST_PLAIN_FRACTION..MAX_EXACT_INTEGER).contains(&magnitude) {
        // Display is the shortest round-trip form, never with an exponent.
        write!(out, "{number}")
    } else {
        // LowerExp is the shortest round-trip form with an exponent: 1e21.
        write!(out, "{number:e}")
    };
}

/// Writes `text` as a JSON string (RFC 8259): quote, backslash and control
/// characters escaped, everything else passed through as UTF-8.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut clean_from = 0;
    for (index, byte) in text.bytes().enumerate() {
        let short_escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `index` is at an ASCII byte, hence a char boundary.
        out.push_str(&text[clean_from..index]);
        if short_escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(short_escape);
        }
        clean_from = index + 1;
    }
    out.push_str(&text[clean_from..]);
    out.push('"');
}

fn malformed_at(payload: &[u8], pos: usize, reason: &'static str) -> TagJsonError {
    let (line, column) = line_and_column(payload, pos);
    TagJsonError::Malformed {
        line,
        column,
        reason,
    }
}

fn line_and_column(payload: &[u8], pos: usize) -> (usize, usize) {
    let before = payload.get(..pos).unwrap_or(payload);
    let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    (line, before.len() - line_start + 1)
}

/// A cursor over a payload already checked to be UTF-8.
///
/// Every position it slices at is next to an ASCII byte, so slicing `text`
/// never splits a character.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// The bytes from the cursor on.
    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn malformed(&self, reason: &'static str) -> TagJsonError {
        malformed_at(self.text.as_bytes(), self.pos, reason)
    }

    fn too_deep(&self) -> TagJsonError {
        let (line, column) = line_and_column(self.text.as_bytes(), self.pos);
        TagJsonError::TooDeep {
            max_depth: MAX_DEPTH,
            line,
            column,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after optional whitespace) or fails with `reason`.
    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), TagJsonError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.malformed(reason))
        }
    }

    /// The kind of the value starting at the cursor, judged by its first byte.
    fn value_type(&self) -> Result<JsonType, TagJsonError> {
        match self.peek() {
            Some(b'[') => Ok(JsonType::Array),
            Some(b'{') => Ok(JsonType::Object),
            Some(b'"') => Ok(JsonType::String),
            Some(b't' | b'f') => Ok(JsonType::Bool),
            Some(b'n') => Ok(JsonType::Null),
            Some(b'-' | b'0'..=b'9') => Ok(JsonType::Number),
            Some(_) => Err(self.malformed("expected a JSON value")),
            None => Err(self.malformed("unexpected end of input, expected a JSON value")),
        }
    }

    /// Parses `[tag, tag, ...]` at the cursor.
    fn tag_array(&mut self) -> Result<Vec<Tag>, TagJsonError> {
        self.pos += 1; // '['
        let mut tags = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(tags);
        }
        loop {
            self.skip_whitespace();
            let index = tags.len();
            match self.value_type()? {
                JsonType::Object => tags.push(self.tag_object(index, 2)?),
                found => {
                    return Err(TagJsonError::NotATag {
                        index,
                        problem: TagProblem::NotAnObject { found },
                    })
                }
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(tags);
                }
                Some(_) => return Err(self.malformed("expected ',' or ']' after a tag")),
                None => return Err(self.malformed("unexpected end of input, expected ']'")),
            }
        }
    }

    /// Parses one tag object at the cursor; `depth` is the object's own
    /// nesting level.
    ///
    /// A key of the wrong kind is remembered rather than reported at once, so
    /// that a later duplicate key wins, as it does in serde_json.
    fn tag_object(&mut self, index: usize, depth: usize) -> Result<Tag, TagJsonError> {
        self.pos += 1; // '{'
        let mut name: Option<Result<String, JsonType>> = None;
        let mut value: Option<Result<TagValue, JsonType>> = None;
        let mut time: Option<Result<String, JsonType>> = None;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.malformed("expected a string key"));
                }
                let key = self.string()?;
                self.expect(b':', "expected ':' after a key")?;
                self.skip_whitespace();
                let found = self.value_type()?;
                match (key.as_ref(), found) {
                    ("tag", JsonType::String) => name = Some(Ok(self.string()?.into_owned())),
                    ("time", JsonType::String) => time = Some(Ok(self.string()?.into_owned())),
                    ("value", JsonType::Number) => {
                        value = Some(Ok(TagValue::Number(self.number()?)));
                    }
                    ("value", JsonType::Bool) => value = Some(Ok(TagValue::Bool(self.boolean()?))),
                    ("value", JsonType::String) => {
                        value = Some(Ok(TagValue::Text(self.string()?.into_owned())));
                    }
                    ("value", JsonType::Null) => {
                        self.literal("null")?;
                        value = Some(Ok(TagValue::Null));
                    }
                    (key, found) => {
                        self.skip_value(depth)?;
                        match key {
                            "tag" => name = Some(Err(found)),
                            "value" => value = Some(Err(found)),
                            "time" => time = Some(Err(found)),
                            _ => {}
                        }
                    }
                }
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(_) => return Err(self.malformed("expected ',' or '}' in a tag object")),
                    None => return Err(self.malformed("unexpected end of input, expected '}'")),
                }
            }
        }
        let problem = match (name, value, time) {
            (Some(Ok(name)), Some(Ok(value)), None) => {
                return Ok(Tag {
                    name,
                    value,
                    time: None,
                })
            }
            (Some(Ok(name)), Some(Ok(value)), Some(Ok(time))) => {
                return Ok(Tag {
                    name,
                    value,
                    time: Some(time),
                })
            }
            (None, _, _) => TagProblem::MissingName,
            (Some(Err(found)), _, _) => TagProblem::NameNotString { found },
            (_, None, _) => TagProblem::MissingValue,
            (_, Some(Err(found)), _) => TagProblem::ValueNotScalar { found },
            (_, _, Some(Err(found))) => TagProblem::TimeNotString { found },
        };
        Err(TagJsonError::NotATag { index, problem })
    }

    /// Validates and skips any value at the cursor, held by a container at
    /// nesting level `depth`. Iterative, so deep nesting costs heap, not stack.
    fn skip_value(&mut self, depth: usize) -> Result<(), TagJsonError> {
        // One entry per open container: true for an object, false for an array.
        let mut open_is_object: Vec<bool> = Vec::new();
        loop {
            self.skip_whitespace();
            match self.value_type()? {
                kind @ (JsonType::Array | JsonType::Object) => {
                    if depth + open_is_object.len() + 1 > MAX_DEPTH {
                        return Err(self.too_deep());
                    }
                    let is_object = kind == JsonType::Object;
                    self.pos += 1;
                    self.skip_whitespace();
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        open_is_object.push(is_object);
                        if is_object {
                            self.key_and_colon()?;
                        }
                        continue;
                    }
                }
                JsonType::String => {
                    self.string()?;
                }
                JsonType::Number => {
                    self.number()?;
                }
                JsonType::Bool => {
                    self.boolean()?;
                }
                JsonType::Null => self.literal("null")?,
            }
            // A value is complete: close every container it completes.
            loop {
                let Some(&is_object) = open_is_object.last() else {
                    return Ok(());
                };
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if is_object {
                            self.key_and_colon()?;
                        }
                        break;
                    }
                    Some(b'}') if is_object => {
                        self.pos += 1;
                        open_is_object.pop();
                    }
                    Some(b']') if !is_object => {
                        self.pos += 1;
                        open_is_object.pop();
                    }
                    Some(_) if is_object => {
                        return Err(self.malformed("expected ',' or '}' in an object"))
                    }
                    Some(_) => return Err(self.malformed("expected ',' or ']' in an array")),
                    None => return Err(self.malformed("unexpected end of input in a nested value")),
                }
            }
        }
    }

    fn key_and_colon(&mut self) -> Result<(), TagJsonError> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err(self.malformed("expected a string key"));
        }
        self.string()?;
        self.expect(b':', "expected ':' after a key")
    }

    fn literal(&mut self, word: &'static str) -> Result<(), TagJsonError> {
        if self.rest().starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.malformed("invalid literal, expected true, false or null"))
        }
    }

    fn boolean(&mut self) -> Result<bool, TagJsonError> {
        if self.peek() == Some(b't') {
            self.literal("true").map(|()| true)
        } else {
            self.literal("false").map(|()| false)
        }
    }

    /// Parses a number per the RFC 8259 grammar, correctly rounded.
    fn number(&mut self) -> Result<f64, TagJsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.malformed("invalid number: expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.malformed("invalid number: expected a digit after '.'"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.malformed("invalid number: expected a digit in the exponent"));
            }
            self.digits();
        }
        let text = &self.text[start..self.pos];
        match text.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(number),
            _ => {
                self.pos = start;
                Err(self.malformed("number out of range for a 64-bit float"))
            }
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Parses the string at the cursor (which is at its opening quote),
    /// borrowing from the payload when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, TagJsonError> {
        self.pos += 1; // '"'
        let mut unescaped: Option<String> = None;
        let mut chunk_start = self.pos;
        loop {
            let Some(special) = self
                .rest()
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
            else {
                self.pos = self.text.len();
                return Err(self.malformed("unexpected end of input in a string"));
            };
            self.pos += special;
            let chunk = &self.text[chunk_start..self.pos];
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(match unescaped {
                        None => Cow::Borrowed(chunk),
                        Some(mut text) => {
                            text.push_str(chunk);
                            Cow::Owned(text)
                        }
                    });
                }
                Some(b'\\') => {
                    let text = unescaped.get_or_insert_with(String::new);
                    text.push_str(chunk);
                    self.pos += 1;
                    let unescaped_char = self.escape()?;
                    text.push(unescaped_char);
                    chunk_start = self.pos;
                }
                _ => return Err(self.malformed("control character in a string must be escaped")),
            }
        }
    }

    /// Parses the escape after a backslash.
    fn escape(&mut self) -> Result<char, TagJsonError> {
        let unescaped = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape();
            }
            _ => return Err(self.malformed("invalid escape in a string")),
        };
        self.pos += 1;
        Ok(unescaped)
    }

    /// Parses `XXXX` after `\u`, joining a UTF-16 surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, TagJsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.rest().starts_with(b"\\u") {
                    return Err(self.malformed("unpaired UTF-16 surrogate in a \\u escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.malformed("unpaired UTF-16 surrogate in a \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.malformed("unpaired UTF-16 surrogate in a \\u escape"))
            }
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| self.malformed("invalid \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32, TagJsonError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|byte| char::from(byte).to_digit(16))
                .ok_or_else(|| self.malformed("expected 4 hex digits after \\u"))?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }
}
