//! The Flexy tag-JSON format: `[{"tag":"T1","value":12.5,"time":"2024-05-01 13:45:10"}]`.
//!
//! [`encode`] and [`encode_into`] write it, [`decode`] reads it, and
//! [`format_time`] renders the `time` field.
//!
//! JSON itself is serde_json's business: [`decode`] parses with it and then
//! checks the shape of the tree, and [`encode_into`] escapes strings with it.
//! Only numbers are written by hand, so that integral values have no fraction
//! (`12`, where serde_json would write `12.0`). Two serde_json properties
//! matter on a Flexy:
//!
//! - exact numbers: with the `float_roundtrip` feature its float parser is
//!   correctly rounded (without it about a third of random doubles come back
//!   one ulp off), so `decode(encode(x)) == x`;
//! - hostile input: it stops at its recursion limit, so a payload of 100 000
//!   `[` cannot overflow the stack; it is rejected with
//!   [`TagJsonError::TooDeep`] past [`MAX_DEPTH`] levels.

use std::fmt::{self, Write as _};
use std::io;

use serde_json::{Map, Value};

/// Deepest nesting [`decode`] accepts, counting the outer array as level 1.
///
/// Tag JSON itself needs 2; the rest is room for ignored extra keys. This is
/// serde_json's recursion limit: it starts with a budget of 128 levels and
/// fails when the budget reaches 0, so level 128 is the first one rejected.
pub const MAX_DEPTH: usize = 127;

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
    /// An integer written exactly, even beyond 2^53 where `f64` would round
    /// (a Java `Long` counter). [`decode`] returns every number as
    /// [`TagValue::Number`].
    Integer(i64),
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
    /// The `value` key is a number beyond the range of an `f64`. serde_json
    /// rejects such numbers as malformed unless its `arbitrary_precision`
    /// feature is enabled somewhere in the build.
    #[error("\"value\" is a number beyond the range of a 64-bit float")]
    ValueOutOfRange,
    /// The `time` key is present but not a string.
    #[error("\"time\" must be a string, found {found}")]
    TimeNotString {
        /// What the `time` key holds instead.
        found: JsonType,
    },
}

/// Why tag JSON could not be encoded or decoded.
///
/// Positions (`line`, `column`) are serde_json's, counted in the payload as
/// given (a skipped byte order mark included): 1-based, `column` in bytes, at
/// the last byte serde_json looked at. That is the offending byte for an
/// unexpected character or a bracket nested too deep, the last digit of a
/// number out of range, and the payload's last byte (column 0 on an empty
/// line) for an unexpected end of input.
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
        /// Line of the byte where the problem showed.
        line: usize,
        /// Column (in bytes) of that byte.
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
    /// The UTC offset is more than a day either way ([`MAX_UTC_OFFSET_MINUTES`]).
    #[error("a UTC offset of {utc_offset_minutes} minutes is outside -{max}..{max} (one day either way)", max = MAX_UTC_OFFSET_MINUTES)]
    OffsetOutOfRange {
        /// The offset given, in minutes.
        utc_offset_minutes: i32,
    },
    /// The tag time falls outside the years `YYYY` can write.
    #[error("tag time {epoch_millis} ms since 1970-01-01 UTC with an offset of {utc_offset_minutes} minutes falls in the year {year}; tag times must fall in the years 0000 to 9999")]
    TimeOutOfRange {
        /// The time given, in milliseconds since 1970-01-01 00:00:00 UTC.
        epoch_millis: i64,
        /// The offset given, in minutes.
        utc_offset_minutes: i32,
        /// The (proleptic Gregorian) year they make.
        year: i64,
    },
}

/// The years a tag time may fall in: `YYYY` has four digits.
pub const TAG_YEARS: std::ops::RangeInclusive<i64> = 0..=9999;

/// The largest UTC offset a tag time may be given, in minutes either way:
/// a day (real offsets are within -12 and +14 hours). TAGTIMEOFFSET has the
/// same bound.
pub const MAX_UTC_OFFSET_MINUTES: i32 = 1440;

/// Appends the tag-JSON array for `tags` to `out`, so callers can reuse one
/// buffer (the device has a 25 MB heap).
///
/// Every element gets the same `time`, [`format_time`]`(epoch_millis,
/// utc_offset_minutes)`. Output has no whitespace and keys in the order
/// `tag`, `value`, `time`; an empty iterator gives `[]`.
///
/// # Errors
///
/// [`TagJsonError::OffsetOutOfRange`] for an offset of more than a day
/// either way, [`TagJsonError::TimeOutOfRange`] when the time falls outside
/// the years 0000 to 9999 ([`TAG_YEARS`]); nothing is appended then.
pub fn encode_into<'a>(
    out: &mut String,
    tags: impl IntoIterator<Item = (&'a str, &'a TagValue)>,
    epoch_millis: i64,
    utc_offset_minutes: i32,
) -> Result<(), TagJsonError> {
    let time = format_tag_time(epoch_millis, utc_offset_minutes)?;
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
/// [`TagJsonError::LengthMismatch`] when the slices differ in length;
/// [`TagJsonError::OffsetOutOfRange`] and [`TagJsonError::TimeOutOfRange`]
/// as for [`encode_into`].
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
/// The payload is parsed into a serde_json tree first. Strings are moved out
/// of it into the tags, but while it lives its maps and keys cost native
/// memory beyond the tags themselves (not Java heap).
///
/// # Errors
///
/// [`TagJsonError::Malformed`] for invalid UTF-8 anywhere, then for invalid
/// JSON (including truncation); [`TagJsonError::TooDeep`] for nesting beyond
/// [`MAX_DEPTH`] anywhere, also inside an element that is not an object. Only
/// for well-formed JSON: [`TagJsonError::NotArrayOrObject`], or
/// [`TagJsonError::NotATag`] naming the first element that is not a tag.
pub fn decode(payload: &[u8]) -> Result<Vec<Tag>, TagJsonError> {
    // Checked up front so that invalid UTF-8 anywhere is named as such, at its
    // first byte; serde_json calls such bytes outside strings a syntax error.
    let text =
        std::str::from_utf8(payload).map_err(|error| invalid_utf8(payload, error.valid_up_to()))?;
    // RFC 8259 lets parsers ignore a byte order mark; some Windows tools add one.
    let json = text.strip_prefix('\u{feff}').unwrap_or(text);
    let tree: Value =
        serde_json::from_str(json).map_err(|error| parse_error(&error, text.len() - json.len()))?;
    match tree {
        Value::Array(elements) => elements
            .into_iter()
            .enumerate()
            .map(|(index, element)| match element {
                Value::Object(object) => tag_from_object(object, index),
                other => Err(TagJsonError::NotATag {
                    index,
                    problem: TagProblem::NotAnObject {
                        found: json_type(&other),
                    },
                }),
            })
            .collect(),
        Value::Object(object) => Ok(vec![tag_from_object(object, 0)?]),
        other => Err(TagJsonError::NotArrayOrObject {
            found: json_type(&other),
        }),
    }
}

/// Formats `epoch_millis` (milliseconds since 1970-01-01 00:00:00 UTC) shifted
/// by `utc_offset_minutes` as `YYYY-MM-DD HH:MM:SS` in the proleptic Gregorian
/// calendar.
///
/// Milliseconds are dropped (rounding towards the past, also before 1970).
/// Years outside 0..=9999 are written with as many digits as they need and a
/// leading `-` when negative. Never panics, for any input.
pub fn format_time(epoch_millis: i64, utc_offset_minutes: i32) -> String {
    let seconds = local_seconds(epoch_millis, utc_offset_minutes);
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

/// [`format_time`] for a tag: refuses offsets of more than a day either way
/// and times outside the years 0000 to 9999 ([`TAG_YEARS`]), where the
/// format would need a fifth digit or a sign that readers of
/// `YYYY-MM-DD HH:MM:SS` do not expect.
///
/// # Errors
///
/// [`TagJsonError::OffsetOutOfRange`], or [`TagJsonError::TimeOutOfRange`]
/// naming the year.
pub fn format_tag_time(epoch_millis: i64, utc_offset_minutes: i32) -> Result<String, TagJsonError> {
    if utc_offset_minutes.unsigned_abs() > MAX_UTC_OFFSET_MINUTES.unsigned_abs() {
        return Err(TagJsonError::OffsetOutOfRange { utc_offset_minutes });
    }
    let seconds = local_seconds(epoch_millis, utc_offset_minutes);
    let (year, _, _) = civil_from_days(seconds.div_euclid(86_400));
    // An i64 of milliseconds spans under 300 million years: the year fits.
    let year = i64::try_from(year).unwrap_or(i64::MAX);
    if !TAG_YEARS.contains(&year) {
        return Err(TagJsonError::TimeOutOfRange {
            epoch_millis,
            utc_offset_minutes,
            year,
        });
    }
    Ok(format_time(epoch_millis, utc_offset_minutes))
}

/// Seconds since 1970-01-01 00:00:00 local time, rounded towards the past;
/// i128 so that any i64 plus any offset cannot overflow.
fn local_seconds(epoch_millis: i64, utc_offset_minutes: i32) -> i128 {
    let local_millis = i128::from(epoch_millis) + i128::from(utc_offset_minutes) * 60_000;
    local_millis.div_euclid(1000)
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
        // Writing to a String cannot fail.
        TagValue::Integer(integer) => {
            let _ = write!(out, "{integer}");
        }
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

/// Writes `text` as a JSON string with serde_json's escaper: quote, backslash
/// and control characters escaped (`\n`, `\u001f`), everything else passed
/// through as UTF-8.
fn push_json_string(out: &mut String, text: &str) {
    // Neither appending to a String nor serializing a str can fail.
    let _ = serde_json::to_writer(AppendToString(out), text);
}

/// Lets serde_json's serializer append to a `String` in place, so escaping a
/// string allocates nothing.
struct AppendToString<'a>(&'a mut String);

impl io::Write for AppendToString<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // serde_json only writes whole UTF-8 sequences (see `to_writer`), so
        // this borrows and never substitutes U+FFFD.
        self.0.push_str(&String::from_utf8_lossy(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Builds the tag at `index` from its object, moving strings out of the tree
/// rather than copying them. serde_json keeps the last of duplicate keys.
fn tag_from_object(mut object: Map<String, Value>, index: usize) -> Result<Tag, TagJsonError> {
    let not_a_tag = |problem| TagJsonError::NotATag { index, problem };
    let name = match object.remove("tag") {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(not_a_tag(TagProblem::NameNotString {
                found: json_type(&other),
            }))
        }
        None => return Err(not_a_tag(TagProblem::MissingName)),
    };
    let value = match object.remove("value") {
        Some(Value::Number(number)) => match number.as_f64() {
            Some(number) => TagValue::Number(number),
            None => return Err(not_a_tag(TagProblem::ValueOutOfRange)),
        },
        Some(Value::Bool(flag)) => TagValue::Bool(flag),
        Some(Value::String(text)) => TagValue::Text(text),
        Some(Value::Null) => TagValue::Null,
        Some(other) => {
            return Err(not_a_tag(TagProblem::ValueNotScalar {
                found: json_type(&other),
            }))
        }
        None => return Err(not_a_tag(TagProblem::MissingValue)),
    };
    let time = match object.remove("time") {
        Some(Value::String(time)) => Some(time),
        Some(other) => {
            return Err(not_a_tag(TagProblem::TimeNotString {
                found: json_type(&other),
            }))
        }
        None => None,
    };
    Ok(Tag { name, value, time })
}

fn json_type(value: &Value) -> JsonType {
    match value {
        Value::Null => JsonType::Null,
        Value::Bool(_) => JsonType::Bool,
        Value::Number(_) => JsonType::Number,
        Value::String(_) => JsonType::String,
        Value::Array(_) => JsonType::Array,
        Value::Object(_) => JsonType::Object,
    }
}

/// serde_json's messages for the syntax errors it can report while parsing a
/// `&str` into a `Value` (the `Display` of its private `ErrorCode`, the only
/// way it tells them apart) and the reason [`TagJsonError::Malformed`] gives
/// for each.
const SERDE_JSON_REASONS: &[(&str, &str)] = &[
    (
        "EOF while parsing a list",
        "unexpected end of input in an array",
    ),
    (
        "EOF while parsing an object",
        "unexpected end of input in an object",
    ),
    (
        "EOF while parsing a string",
        "unexpected end of input in a string",
    ),
    (
        "EOF while parsing a value",
        "unexpected end of input, expected a JSON value",
    ),
    ("expected `:`", "expected ':' after a key"),
    ("expected `,` or `]`", "expected ',' or ']' in an array"),
    ("expected `,` or `}`", "expected ',' or '}' in an object"),
    (
        "expected ident",
        "invalid literal, expected true, false or null",
    ),
    ("expected value", "expected a JSON value"),
    ("key must be a string", "expected a string key"),
    ("invalid escape", "invalid escape in a string"),
    ("invalid number", "invalid number"),
    (
        "number out of range",
        "number out of range for a 64-bit float",
    ),
    // serde_json says "leading" for a lone trailing surrogate too.
    (
        "lone leading surrogate in hex escape",
        "unpaired UTF-16 surrogate in a \\u escape",
    ),
    (
        "unexpected end of hex escape",
        "unpaired UTF-16 surrogate in a \\u escape",
    ),
    (
        "control character",
        "control character in a string must be escaped",
    ),
    ("trailing comma", "trailing comma before ']' or '}'"),
    (
        "trailing characters",
        "unexpected characters after the JSON value",
    ),
];

/// Maps a serde_json parse error to [`TagJsonError`]. serde_json did not see
/// the `skipped` bytes of a byte order mark, so columns on line 1 are moved
/// by them to count from the start of the payload.
fn parse_error(error: &serde_json::Error, skipped: usize) -> TagJsonError {
    let line = error.line();
    let column = if line == 1 {
        error.column() + skipped
    } else {
        error.column()
    };
    let message = error.to_string();
    if message.starts_with("recursion limit exceeded") {
        return TagJsonError::TooDeep {
            max_depth: MAX_DEPTH,
            line,
            column,
        };
    }
    let reason = match SERDE_JSON_REASONS
        .iter()
        .find(|(serde_message, _)| message.starts_with(serde_message))
    {
        Some(&(_, reason)) => reason,
        // A message this serde_json version does not have.
        None if error.is_eof() => "unexpected end of input",
        None => "invalid JSON",
    };
    TagJsonError::Malformed {
        line,
        column,
        reason,
    }
}

fn invalid_utf8(payload: &[u8], pos: usize) -> TagJsonError {
    let before = &payload[..pos];
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    TagJsonError::Malformed {
        line: 1 + before.iter().filter(|&&byte| byte == b'\n').count(),
        column: pos - line_start + 1,
        reason: "invalid UTF-8",
    }
}
