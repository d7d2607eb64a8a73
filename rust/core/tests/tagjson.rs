//! Tests for the Flexy tag-JSON encoder and decoder (`etkmqtt_core::tagjson`).
//!
//! The decoder parses with serde_json, so the properties below check the
//! tag rules on top of it: `oracle_tags` applies them independently to
//! serde_json's tree, and the decoder must agree with it on which payloads are
//! tags. serde_json must also read back everything the encoder writes.
//!
//! Error positions are serde_json's (see `TagJsonError`): the byte where the
//! problem showed, so an unexpected end of input is reported at the last byte
//! of the payload, not one past it.

use etkmqtt_core::tagjson::{
    decode, encode, encode_into, format_time, JsonType, Tag, TagJsonError, TagProblem, TagValue,
    MAX_DEPTH,
};
use proptest::prelude::*;
use serde_json::Value;

/// 2024-05-01 13:45:10 UTC.
const MAY_FIRST_2024_MILLIS: i64 = 1_714_571_110_000;
const MAY_FIRST_2024: &str = "2024-05-01 13:45:10";

fn encode_one(value: TagValue) -> String {
    encode(&["T1"], &[value], MAY_FIRST_2024_MILLIS, 0).expect("equal lengths")
}

/// The text between `"value":` and `,"time"` of a single-tag encoding.
fn encoded_value(value: TagValue) -> String {
    let json = encode_one(value);
    let start = json.find("\"value\":").expect("value key") + "\"value\":".len();
    let end = json.find(",\"time\"").expect("time key");
    json[start..end].to_owned()
}

/// The text of the tag name of a single-tag encoding, quotes included.
fn encoded_name(name: &str) -> String {
    let json = encode(&[name], &[TagValue::Null], 0, 0).expect("equal lengths");
    let start = "[{\"tag\":".len();
    let end = json.rfind(",\"value\":null").expect("value key");
    json[start..end].to_owned()
}

fn decode_one(payload: &str) -> Tag {
    let mut tags = decode(payload.as_bytes()).expect("valid tag JSON");
    assert_eq!(tags.len(), 1, "{payload}");
    tags.remove(0)
}

fn tag(name: &str, value: TagValue, time: Option<&str>) -> Tag {
    Tag {
        name: name.to_owned(),
        value,
        time: time.map(str::to_owned),
    }
}

// ---------------------------------------------------------------- encoding

#[test]
fn encode_writes_flexy_format_without_spaces_in_key_order_tag_value_time() {
    assert_eq!(
        encode_one(TagValue::Number(12.5)),
        r#"[{"tag":"T1","value":12.5,"time":"2024-05-01 13:45:10"}]"#
    );
}

#[test]
fn encode_gives_every_element_the_same_time() {
    let json = encode(
        &["A", "B", "C"],
        &[TagValue::Number(1.0), TagValue::Bool(true), TagValue::Null],
        MAY_FIRST_2024_MILLIS + 90 * 60_000,
        120,
    )
    .expect("equal lengths");
    assert_eq!(
        json,
        concat!(
            r#"[{"tag":"A","value":1,"time":"2024-05-01 17:15:10"},"#,
            r#"{"tag":"B","value":true,"time":"2024-05-01 17:15:10"},"#,
            r#"{"tag":"C","value":null,"time":"2024-05-01 17:15:10"}]"#
        )
    );
}

#[test]
fn encode_writes_integral_numbers_without_fraction() {
    assert_eq!(encoded_value(TagValue::Number(12.0)), "12");
    assert_eq!(encoded_value(TagValue::Number(-3.0)), "-3");
    assert_eq!(encoded_value(TagValue::Number(0.0)), "0");
    assert_eq!(encoded_value(TagValue::Number(1e15)), "1000000000000000");
}

#[test]
fn encode_writes_negative_zero_as_zero() {
    assert_eq!(encoded_value(TagValue::Number(-0.0)), "0");
}

#[test]
fn encode_writes_integers_up_to_2_pow_53_exactly() {
    let two_pow_53 = 9_007_199_254_740_992.0;
    assert_eq!(
        encoded_value(TagValue::Number(two_pow_53)),
        "9007199254740992"
    );
    assert_eq!(
        encoded_value(TagValue::Number(-two_pow_53)),
        "-9007199254740992"
    );
    assert_eq!(
        encoded_value(TagValue::Number(two_pow_53 - 1.0)),
        "9007199254740991"
    );
}

#[test]
fn encode_writes_numbers_beyond_2_pow_53_as_shortest_float() {
    assert_eq!(encoded_value(TagValue::Number(1e21)), "1e21");
    assert_eq!(encoded_value(TagValue::Number(-1e21)), "-1e21");
    assert_eq!(
        encoded_value(TagValue::Number(2f64.powi(60))),
        "1.152921504606847e18"
    );
    assert_eq!(
        encoded_value(TagValue::Number(f64::MAX)),
        "1.7976931348623157e308"
    );
    assert_eq!(
        encoded_value(TagValue::Number(9_007_199_254_740_994.0)),
        "9.007199254740994e15"
    );
}

#[test]
fn encode_writes_fractions_in_shortest_round_trip_form() {
    assert_eq!(encoded_value(TagValue::Number(0.1)), "0.1");
    assert_eq!(encoded_value(TagValue::Number(-12.75)), "-12.75");
    assert_eq!(
        encoded_value(TagValue::Number(1.0 / 3.0)),
        "0.3333333333333333"
    );
    assert_eq!(encoded_value(TagValue::Number(0.000001)), "0.000001");
    assert_eq!(encoded_value(TagValue::Number(1e-7)), "1e-7");
    assert_eq!(encoded_value(TagValue::Number(-2.5e-300)), "-2.5e-300");
    assert_eq!(encoded_value(TagValue::Number(5e-324)), "5e-324");
}

#[test]
fn encode_writes_nan_and_infinities_as_null() {
    assert_eq!(encoded_value(TagValue::Number(f64::NAN)), "null");
    assert_eq!(encoded_value(TagValue::Number(f64::INFINITY)), "null");
    assert_eq!(encoded_value(TagValue::Number(f64::NEG_INFINITY)), "null");
}

#[test]
fn encode_writes_booleans_null_and_text() {
    assert_eq!(encoded_value(TagValue::Bool(true)), "true");
    assert_eq!(encoded_value(TagValue::Bool(false)), "false");
    assert_eq!(encoded_value(TagValue::Null), "null");
    assert_eq!(encoded_value(TagValue::Text("on".into())), r#""on""#);
    assert_eq!(encoded_value(TagValue::Text(String::new())), r#""""#);
}

#[test]
fn encode_escapes_quote_backslash_and_short_control_escapes() {
    assert_eq!(encoded_name(r#"a"b"#), r#""a\"b""#);
    assert_eq!(encoded_name(r"C:\temp"), r#""C:\\temp""#);
    assert_eq!(
        encoded_name("l1\nl2\rtab\tbs\u{8}ff\u{c}"),
        r#""l1\nl2\rtab\tbs\bff\f""#
    );
}

#[test]
fn encode_escapes_other_control_characters_as_u_escapes() {
    assert_eq!(encoded_name("\u{1}"), r#""\u0001""#);
    assert_eq!(encoded_name("\u{0}x\u{1f}"), r#""\u0000x\u001f""#);
    // DEL and slash need no escape.
    assert_eq!(encoded_name("\u{7f}/"), "\"\u{7f}/\"");
}

#[test]
fn encode_escapes_text_values_like_names() {
    assert_eq!(
        encoded_value(TagValue::Text("say \"hi\"\\\n\u{1}".into())),
        r#""say \"hi\"\\\n\u0001""#
    );
}

#[test]
fn encode_passes_non_ascii_through_as_utf8() {
    assert_eq!(encoded_name("Température"), "\"Température\"");
    assert_eq!(encoded_name("温度"), "\"温度\"");
    assert_eq!(encoded_name("😀"), "\"😀\"");
    assert_eq!(encoded_name("\u{2028}"), "\"\u{2028}\"");
}

#[test]
fn encode_of_nothing_is_empty_array() {
    assert_eq!(
        encode(&[], &[], MAY_FIRST_2024_MILLIS, 0).expect("equal"),
        "[]"
    );
    let mut out = String::new();
    encode_into(&mut out, std::iter::empty(), 0, 0).expect("encodable");
    assert_eq!(out, "[]");
}

#[test]
fn encode_into_appends_to_the_callers_buffer() {
    let value = TagValue::Number(1.0);
    let mut out = String::from("prefix:");
    encode_into(&mut out, [("T1", &value)], MAY_FIRST_2024_MILLIS, 0).expect("encodable");
    assert_eq!(
        out,
        r#"prefix:[{"tag":"T1","value":1,"time":"2024-05-01 13:45:10"}]"#
    );

    let capacity = out.capacity();
    out.clear();
    encode_into(&mut out, [("T1", &value)], MAY_FIRST_2024_MILLIS, 0).expect("encodable");
    assert_eq!(
        out,
        r#"[{"tag":"T1","value":1,"time":"2024-05-01 13:45:10"}]"#
    );
    assert_eq!(
        out.capacity(),
        capacity,
        "reused buffer must not reallocate"
    );
}

#[test]
fn encode_rejects_length_mismatch_naming_both_lengths() {
    let error = encode(&["A", "B"], &[TagValue::Null], 0, 0).expect_err("2 names, 1 value");
    assert!(
        matches!(
            error,
            TagJsonError::LengthMismatch {
                names: 2,
                values: 1
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "2 tag names but 1 values: each tag needs exactly one value"
    );
}

#[test]
fn encode_ten_thousand_tags_round_trips() {
    let names: Vec<String> = (0..10_000).map(|i| format!("T{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let values: Vec<TagValue> = (0..10_000)
        .map(|i| TagValue::Number(f64::from(i) / 4.0))
        .collect();
    let json = encode(&name_refs, &values, MAY_FIRST_2024_MILLIS, 0).expect("equal lengths");

    let parsed: Value = serde_json::from_str(&json).expect("serde_json accepts the encoding");
    assert_eq!(parsed.as_array().map(Vec::len), Some(10_000));

    let tags = decode(json.as_bytes()).expect("decodes");
    assert_eq!(tags.len(), 10_000);
    for (i, tag) in tags.iter().enumerate() {
        assert_eq!(tag.name, names[i]);
        assert_eq!(tag.value, values[i]);
        assert_eq!(tag.time.as_deref(), Some(MAY_FIRST_2024));
    }
}

// ------------------------------------------------------- tag time range

#[test]
fn encode_refuses_an_offset_of_more_than_a_day() {
    let values = [TagValue::Number(1.0)];
    for offset in [i32::MAX, i32::MIN, 1441, -1441] {
        match encode(&["T"], &values, MAY_FIRST_2024_MILLIS, offset) {
            Err(TagJsonError::OffsetOutOfRange { utc_offset_minutes }) => {
                assert_eq!(utc_offset_minutes, offset)
            }
            other => panic!("offset {offset}: {other:?}"),
        }
    }
    for offset in [1440, -1440, 0, 330] {
        assert!(encode(&["T"], &values, MAY_FIRST_2024_MILLIS, offset).is_ok());
    }
}

#[test]
fn encode_refuses_times_outside_the_years_0000_to_9999_and_names_the_year() {
    let values = [TagValue::Number(1.0)];
    // 0000-01-01 00:00:00 and 9999-12-31 23:59:59.999 UTC are the bounds.
    const YEAR_0_START: i64 = -62_167_219_200_000;
    const YEAR_9999_END: i64 = 253_402_300_799_999;
    let first = encode(&["T"], &values, YEAR_0_START, 0).expect("year 0");
    assert!(first.contains("\"0000-01-01 00:00:00\""), "{first}");
    let last = encode(&["T"], &values, YEAR_9999_END, 0).expect("year 9999");
    assert!(last.contains("\"9999-12-31 23:59:59\""), "{last}");
    let cases = [
        (YEAR_0_START - 1, 0, -1),
        (YEAR_0_START, -1, -1),
        (YEAR_9999_END + 1, 0, 10_000),
        (YEAR_9999_END, 1, 10_000),
        (i64::MAX, 0, 292_278_994),
        (i64::MIN, 0, -292_275_055),
    ];
    for (millis, offset, year) in cases {
        let err = encode(&["T"], &values, millis, offset).expect_err("out of range");
        assert!(
            matches!(err, TagJsonError::TimeOutOfRange { year: y, .. } if y == year),
            "{millis} {offset}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&format!("year {year}")), "{text}");
        assert!(text.contains("0000 to 9999"), "{text}");
    }
    let mut out = String::from("kept");
    assert!(encode_into(&mut out, [("T", &values[0])], i64::MAX, 0).is_err());
    assert_eq!(out, "kept", "nothing is appended when the time is refused");
}

// ------------------------------------------------------------- format_time

#[test]
fn format_time_of_epoch_zero_is_1970() {
    assert_eq!(format_time(0, 0), "1970-01-01 00:00:00");
    assert_eq!(format_time(MAY_FIRST_2024_MILLIS, 0), MAY_FIRST_2024);
}

#[test]
fn format_time_drops_milliseconds_towards_the_past() {
    assert_eq!(format_time(999, 0), "1970-01-01 00:00:00");
    assert_eq!(format_time(1_000, 0), "1970-01-01 00:00:01");
    assert_eq!(format_time(-1, 0), "1969-12-31 23:59:59");
    assert_eq!(format_time(-1_000, 0), "1969-12-31 23:59:59");
    assert_eq!(format_time(-1_001, 0), "1969-12-31 23:59:58");
}

#[test]
fn format_time_positive_offset_crosses_midnight_into_new_year() {
    // 2023-12-31 23:30:00 UTC at UTC+01:00.
    assert_eq!(format_time(1_704_065_400_000, 60), "2024-01-01 00:30:00");
}

#[test]
fn format_time_negative_offset_crosses_midnight_into_old_year() {
    // 2024-01-01 00:30:00 UTC at UTC-02:00.
    assert_eq!(format_time(1_704_069_000_000, -120), "2023-12-31 22:30:00");
    // Half-hour offsets (India, UTC+05:30).
    assert_eq!(format_time(1_704_069_000_000, 330), "2024-01-01 06:00:00");
}

#[test]
fn format_time_handles_leap_days() {
    // 2024-02-28 23:59:59 UTC, then one second later.
    assert_eq!(format_time(1_709_164_799_000, 0), "2024-02-28 23:59:59");
    assert_eq!(format_time(1_709_164_800_000, 0), "2024-02-29 00:00:00");
    assert_eq!(format_time(1_709_208_000_000, 0), "2024-02-29 12:00:00");
    // An offset crossing midnight into the leap day.
    assert_eq!(format_time(1_709_164_799_000, 60), "2024-02-29 00:59:59");
    // 2000 is a leap year (divisible by 400), 2100 is not (divisible by 100).
    assert_eq!(format_time(951_782_400_000, 0), "2000-02-29 00:00:00");
    assert_eq!(format_time(4_107_542_399_000, 0), "2100-02-28 23:59:59");
    assert_eq!(format_time(4_107_542_400_000, 0), "2100-03-01 00:00:00");
}

#[test]
fn format_time_handles_negative_epochs() {
    assert_eq!(format_time(-86_400_000, 0), "1969-12-31 00:00:00");
    assert_eq!(format_time(-14_182_940_000, 0), "1969-07-20 20:17:40");
    assert_eq!(format_time(-2_208_988_800_000, 0), "1900-01-01 00:00:00");
    // A negative offset pushing epoch zero back into 1969.
    assert_eq!(format_time(0, -1), "1969-12-31 23:59:00");
}

#[test]
fn format_time_handles_extreme_inputs_without_overflow() {
    // Same instants as java.time.Instant.ofEpochMilli(Long.MAX_VALUE / MIN_VALUE).
    assert_eq!(format_time(i64::MAX, 0), "292278994-08-17 07:12:55");
    assert_eq!(format_time(i64::MIN, 0), "-292275055-05-16 16:47:04");
    // Offsets that would overflow i64 arithmetic.
    let max_offset = format_time(i64::MAX, i32::MAX);
    let min_offset = format_time(i64::MIN, i32::MIN);
    assert!(max_offset.starts_with("29"), "{max_offset}");
    assert!(min_offset.starts_with("-29"), "{min_offset}");
}

#[test]
fn format_time_writes_year_zero_and_negative_years_with_four_digits() {
    // 0000-01-01 00:00:00 UTC is 719 528 days before 1970-01-01.
    let year_zero = -719_528 * 86_400_000;
    assert_eq!(format_time(year_zero, 0), "0000-01-01 00:00:00");
    assert_eq!(format_time(year_zero - 1, 0), "-0001-12-31 23:59:59");
}

/// A naive calendar: the length of each month, walked day by day.
fn naive_month_lengths(year: i64) -> [i64; 12] {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ]
}

#[test]
fn format_time_matches_a_day_by_day_calendar_walk_from_1600_to_2400() {
    let days_1600_to_1970: i64 = (1600..1970)
        .map(|y| naive_month_lengths(y).iter().sum::<i64>())
        .sum();
    let mut day_number = -days_1600_to_1970;
    for year in 1600..2400 {
        for (month, length) in naive_month_lengths(year).iter().enumerate() {
            for day in 1..=*length {
                let expected = format!("{year:04}-{:02}-{day:02} 00:00:00", month + 1);
                assert_eq!(format_time(day_number * 86_400_000, 0), expected);
                day_number += 1;
            }
        }
    }
}

// ---------------------------------------------------------------- decoding

#[test]
fn decode_reads_an_array_of_tags() {
    let tags = decode(
        br#"[{"tag":"T1","value":12.5,"time":"2024-05-01 13:45:10"},{"tag":"T2","value":"on"}]"#,
    )
    .expect("valid");
    assert_eq!(
        tags,
        vec![
            tag("T1", TagValue::Number(12.5), Some(MAY_FIRST_2024)),
            tag("T2", TagValue::Text("on".into()), None),
        ]
    );
}

#[test]
fn decode_reads_a_single_object_as_one_tag() {
    let tags = decode(br#"{"tag":"T1","value":true}"#).expect("valid");
    assert_eq!(tags, vec![tag("T1", TagValue::Bool(true), None)]);
}

#[test]
fn decode_of_empty_array_is_no_tags() {
    assert_eq!(decode(b"[]").expect("valid"), Vec::<Tag>::new());
    assert_eq!(decode(b" [ ] ").expect("valid"), Vec::<Tag>::new());
}

#[test]
fn decode_reads_every_scalar_value_kind() {
    let tags = decode(
        br#"[{"tag":"n","value":-1.5e2},{"tag":"b","value":false},
            {"tag":"s","value":"x"},{"tag":"z","value":null},{"tag":"e","value":1E+2},
            {"tag":"big","value":123456789012345678901234567890}]"#,
    )
    .expect("valid");
    let values: Vec<TagValue> = tags.into_iter().map(|tag| tag.value).collect();
    assert_eq!(
        values,
        vec![
            TagValue::Number(-150.0),
            TagValue::Bool(false),
            TagValue::Text("x".into()),
            TagValue::Null,
            TagValue::Number(100.0),
            TagValue::Number(1.2345678901234568e29),
        ]
    );
}

#[test]
fn decode_parses_numbers_correctly_rounded() {
    // serde_json without its float_roundtrip feature reads these one ulp off.
    for number in [
        2.699038309416696e-307,
        -1.6810777060633125e53,
        1.9152320786075119e86,
        -8.608512505062673e106,
    ] {
        let payload = format!(r#"{{"tag":"T","value":{number:e}}}"#);
        assert_eq!(
            decode_one(&payload).value,
            TagValue::Number(number),
            "{payload}"
        );
    }
}

#[test]
fn decode_tolerates_whitespace_everywhere() {
    let tags = decode(
        b" \r\n\t[ { \"tag\" : \"T1\" ,\n \"value\" : 1 } ,{\"tag\":\"T2\",\"value\":2}\n] \n",
    )
    .expect("valid");
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[1].value, TagValue::Number(2.0));
}

#[test]
fn decode_ignores_unknown_keys_including_nested_ones() {
    let tag = decode_one(
        r#"{"quality":"good","tag":"T1","meta":{"a":[1,{"b":null}],"c":[]},"value":7,"x":{}}"#,
    );
    assert_eq!(tag, self::tag("T1", TagValue::Number(7.0), None));
}

#[test]
fn decode_keeps_the_last_of_duplicate_keys() {
    let tag = decode_one(r#"{"tag":1,"value":[1],"tag":"T2","value":2,"time":3,"time":"t"}"#);
    assert_eq!(tag, self::tag("T2", TagValue::Number(2.0), Some("t")));
}

#[test]
fn decode_unescapes_every_json_escape() {
    let tag = decode_one(
        r#"{"tag":"q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u6e29 \ud83d\ude00","value":null}"#,
    );
    assert_eq!(tag.name, "q\" b\\ s/ \u{8}\u{c}\n\r\t Aé温 😀");
}

#[test]
fn decode_passes_raw_utf8_through() {
    let tag = decode_one("{\"tag\":\"Température 😀\",\"value\":\"温度\"}");
    assert_eq!(tag.name, "Température 😀");
    assert_eq!(tag.value, TagValue::Text("温度".into()));
}

#[test]
fn decode_skips_a_leading_byte_order_mark() {
    let tags = decode("\u{feff}[{\"tag\":\"T1\",\"value\":1}]".as_bytes()).expect("valid");
    assert_eq!(tags[0].name, "T1");
}

// ---------------------------------------------------------- decoding errors

fn not_a_tag(payload: &str) -> (usize, TagProblem) {
    match decode(payload.as_bytes()) {
        Err(TagJsonError::NotATag { index, problem }) => (index, problem),
        other => panic!("expected NotATag for {payload}, got {other:?}"),
    }
}

fn malformed(payload: &[u8]) -> (usize, usize, &'static str) {
    match decode(payload) {
        Err(TagJsonError::Malformed {
            line,
            column,
            reason,
        }) => (line, column, reason),
        other => panic!(
            "expected Malformed for {:?}, got {other:?}",
            String::from_utf8_lossy(payload)
        ),
    }
}

#[test]
fn decode_rejects_missing_tag_naming_the_element() {
    assert_eq!(
        not_a_tag(r#"[{"tag":"T0","value":1},{"value":2}]"#),
        (1, TagProblem::MissingName)
    );
    let error = decode(br#"[{"tag":"T0","value":1},{"value":2}]"#).expect_err("missing tag");
    assert_eq!(
        error.to_string(),
        "tag JSON element 1 is not a tag: it has no \"tag\" key"
    );
}

#[test]
fn decode_rejects_missing_tag_in_a_single_object_as_element_zero() {
    assert_eq!(not_a_tag(r#"{"value":2}"#), (0, TagProblem::MissingName));
    assert_eq!(not_a_tag(r#"{}"#), (0, TagProblem::MissingName));
}

#[test]
fn decode_rejects_non_string_tag_naming_the_element_and_kind() {
    let payload = r#"[{"tag":"a","value":1},{"tag":"b","value":1},{"tag":42,"value":1}]"#;
    assert_eq!(
        not_a_tag(payload),
        (
            2,
            TagProblem::NameNotString {
                found: JsonType::Number
            }
        )
    );
    assert_eq!(
        not_a_tag(r#"[{"tag":null,"value":1}]"#),
        (
            0,
            TagProblem::NameNotString {
                found: JsonType::Null
            }
        )
    );
    assert_eq!(
        not_a_tag(r#"[{"tag":["T"],"value":1}]"#),
        (
            0,
            TagProblem::NameNotString {
                found: JsonType::Array
            }
        )
    );
}

#[test]
fn decode_rejects_missing_value() {
    assert_eq!(
        not_a_tag(r#"[{"tag":"a","value":1},{"tag":"b"}]"#),
        (1, TagProblem::MissingValue)
    );
}

#[test]
fn decode_rejects_array_or_object_value() {
    assert_eq!(
        not_a_tag(r#"[{"tag":"a","value":[1,2]}]"#),
        (
            0,
            TagProblem::ValueNotScalar {
                found: JsonType::Array
            }
        )
    );
    assert_eq!(
        not_a_tag(r#"[{"tag":"a","value":1},{"tag":"b","value":{"v":1}}]"#),
        (
            1,
            TagProblem::ValueNotScalar {
                found: JsonType::Object
            }
        )
    );
}

#[test]
fn decode_rejects_non_string_time() {
    assert_eq!(
        not_a_tag(r#"[{"tag":"a","value":1,"time":1714571110}]"#),
        (
            0,
            TagProblem::TimeNotString {
                found: JsonType::Number
            }
        )
    );
    assert_eq!(
        not_a_tag(r#"[{"tag":"a","value":1},{"tag":"b","value":1,"time":null}]"#),
        (
            1,
            TagProblem::TimeNotString {
                found: JsonType::Null
            }
        )
    );
}

#[test]
fn decode_rejects_array_elements_that_are_not_objects() {
    assert_eq!(
        not_a_tag(r#"[{"tag":"a","value":1},"T2"]"#),
        (
            1,
            TagProblem::NotAnObject {
                found: JsonType::String
            }
        )
    );
    assert_eq!(
        not_a_tag("[12.5]"),
        (
            0,
            TagProblem::NotAnObject {
                found: JsonType::Number
            }
        )
    );
    assert_eq!(
        not_a_tag("[[]]"),
        (
            0,
            TagProblem::NotAnObject {
                found: JsonType::Array
            }
        )
    );
}

#[test]
fn decode_rejects_top_level_scalars() {
    for (payload, expected) in [
        ("12.5", JsonType::Number),
        ("\"T1\"", JsonType::String),
        ("true", JsonType::Bool),
        ("null", JsonType::Null),
    ] {
        match decode(payload.as_bytes()) {
            Err(TagJsonError::NotArrayOrObject { found }) => {
                assert_eq!(found, expected, "{payload}")
            }
            other => panic!("expected NotArrayOrObject for {payload}, got {other:?}"),
        }
    }
}

#[test]
fn decode_rejects_empty_and_blank_payloads() {
    assert_eq!(malformed(b"").0, 1);
    assert_eq!(malformed(b"  \n ").0, 2);
}

#[test]
fn decode_rejects_truncated_json_with_its_position() {
    let full = br#"[{"tag":"T1","value":12.5,"time":"2024-05-01 13:45:10"}]"#;
    for cut in 0..full.len() {
        let (line, column, _) = malformed(&full[..cut]);
        // The last byte read; column 0 for the empty payload.
        assert_eq!((line, column), (1, cut), "cut at {cut}");
    }
}

#[test]
fn decode_reports_line_and_column_of_a_syntax_error() {
    let (line, column, reason) = malformed(b"[\n  {\"tag\":\"T1\",\n   \"value\": tru}\n]");
    // The '}' where "true" went wrong.
    assert_eq!((line, column), (3, 16));
    assert!(reason.contains("literal"), "{reason}");
    let error = decode(b"[\n  {\"tag\":\"T1\",\n   \"value\": tru}\n]").expect_err("bad literal");
    assert!(
        error
            .to_string()
            .starts_with("tag JSON is malformed at line 3, column 16"),
        "{error}"
    );
}

#[test]
fn decode_rejects_trailing_characters_and_commas() {
    assert_eq!(malformed(br#"[{"tag":"T","value":1}] x"#).1, 25);
    assert_eq!(malformed(br#"[{"tag":"T","value":1}][]"#).1, 24);
    assert_eq!(malformed(br#"[{"tag":"T","value":1},]"#).1, 24);
    assert_eq!(malformed(br#"[{"tag":"T","value":1,}]"#).1, 23);
    assert_eq!(malformed(br#"[{"tag":"T" "value":1}]"#).1, 13);
    assert_eq!(malformed(br#"[{"tag""T","value":1}]"#).1, 8);
    assert_eq!(malformed(br#"[{tag:"T","value":1}]"#).1, 3);
}

#[test]
fn decode_rejects_invalid_numbers() {
    for bad in [
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "1e+",
        "-",
        "NaN",
        "Infinity",
        "-Infinity",
        "0x10",
        "1.5.2",
    ] {
        let payload = format!(r#"{{"tag":"T","value":{bad}}}"#);
        malformed(payload.as_bytes());
    }
}

#[test]
fn decode_rejects_numbers_out_of_f64_range() {
    let (_, column, reason) = malformed(br#"{"tag":"T","value":1e400}"#);
    assert_eq!(column, 24, "points at the number's last digit");
    assert!(reason.contains("out of range"), "{reason}");
    malformed(br#"{"tag":"T","value":-1e309}"#);
    // Underflow is not an error: it rounds to zero, as in every JSON parser.
    assert_eq!(
        decode_one(r#"{"tag":"T","value":1e-400}"#).value,
        TagValue::Number(0.0)
    );
}

#[test]
fn decode_rejects_bad_strings() {
    for bad in [
        "\"\\x41\"",          // unknown escape
        "\"\\u12\"",          // short \u escape
        "\"\\ud83d\"",        // lone leading surrogate
        "\"\\ud83dx\"",       // leading surrogate followed by text
        "\"\\ud83d\\u0041\"", // leading surrogate followed by a non-surrogate
        "\"\\ude00\"",        // lone trailing surrogate
        "\"a\u{1}b\"",        // raw control character
        "\"a\nb\"",           // raw newline
        "\"unterminated",
    ] {
        let payload = format!(r#"{{"tag":{bad},"value":1}}"#);
        malformed(payload.as_bytes());
    }
}

#[test]
fn decode_rejects_invalid_utf8_naming_its_position() {
    assert_eq!(malformed(b"[{\"tag\":\"\xff\",\"value\":1}]").1, 10);
    // Overlong encoding of '/'.
    assert_eq!(malformed(b"[{\"tag\":\"\xc0\xaf\",\"value\":1}]").1, 10);
    // UTF-8 encoded surrogate.
    assert_eq!(malformed(b"[{\"tag\":\"\xed\xa0\x80\",\"value\":1}]").1, 10);
    // Multibyte sequence cut by the end of the payload.
    let (_, _, reason) = malformed(b"[{\"tag\":\"\xf0\x9f\x98");
    assert_eq!(reason, "invalid UTF-8");
}

#[test]
fn decode_names_each_syntax_error_in_its_own_words() {
    // One payload per serde_json error kind; a reason missing here would fall
    // back to "invalid JSON" when serde_json rewords its messages.
    for (payload, expected) in [
        ("", "unexpected end of input, expected a JSON value"),
        ("[1", "unexpected end of input in an array"),
        (r#"{"a":1"#, "unexpected end of input in an object"),
        (r#"["a"#, "unexpected end of input in a string"),
        (r#"{"a" 1}"#, "expected ':' after a key"),
        ("[1 2]", "expected ',' or ']' in an array"),
        (r#"{"a":1 "b":2}"#, "expected ',' or '}' in an object"),
        ("[tru]", "invalid literal, expected true, false or null"),
        ("[x]", "expected a JSON value"),
        ("{a:1}", "expected a string key"),
        (r#"["\x"]"#, "invalid escape in a string"),
        ("[01]", "invalid number"),
        ("[1e400]", "number out of range for a 64-bit float"),
        (r#"["\ude00"]"#, "unpaired UTF-16 surrogate in a \\u escape"),
        (r#"["\ud83d"]"#, "unpaired UTF-16 surrogate in a \\u escape"),
        (
            "[\"\u{1}\"]",
            "control character in a string must be escaped",
        ),
        ("[1,]", "trailing comma before ']' or '}'"),
        ("[] x", "unexpected characters after the JSON value"),
    ] {
        assert_eq!(malformed(payload.as_bytes()).2, expected, "{payload:?}");
    }
}

#[test]
fn decode_counts_columns_from_the_start_of_the_payload_including_a_byte_order_mark() {
    // The mark is 3 bytes; serde_json never sees it.
    assert_eq!(malformed("\u{feff}[1 2]".as_bytes()).1, 3 + 4);
    assert_eq!(malformed("\u{feff}".as_bytes()).1, 3);
    // Later lines are unaffected.
    assert_eq!(malformed("\u{feff}[1,\n 2 3]".as_bytes()).1, 4);
    let deep = format!("\u{feff}{}", "[".repeat(200));
    match decode(deep.as_bytes()) {
        Err(TagJsonError::TooDeep { line, column, .. }) => {
            assert_eq!((line, column), (1, 3 + MAX_DEPTH + 1));
        }
        other => panic!("expected TooDeep, got {other:?}"),
    }
}

// ---------------------------------------------------------- hostile input

/// Runs `check` on a thread with a 1 MiB stack, so recursion that followed
/// 100 000 nesting levels would overflow and abort the test.
///
/// serde_json recurses once per level up to its limit (`MAX_DEPTH`), which
/// needs about 200-256 KiB in an unoptimized x86-64 build and under 96 KiB in
/// a release build; 1 MiB leaves room for instrumented builds.
fn on_small_stack(check: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(check)
        .expect("spawn")
        .join()
        .expect("decoder must not panic");
}

#[test]
fn decode_rejects_100_000_nested_arrays_without_overflowing_the_stack() {
    on_small_stack(|| {
        // serde_json builds the whole tree before the elements are checked, so
        // the depth is the first problem, even in an element that is not an
        // object.
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        match decode(deep.as_bytes()) {
            Err(TagJsonError::TooDeep {
                max_depth,
                line,
                column,
            }) => assert_eq!((max_depth, line, column), (MAX_DEPTH, 1, MAX_DEPTH + 1)),
            other => panic!("expected TooDeep, got {other:?}"),
        }

        let in_unknown_key = format!(
            r#"[{{"tag":"T","value":1,"x":{}{}}}]"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        match decode(in_unknown_key.as_bytes()) {
            Err(TagJsonError::TooDeep {
                max_depth,
                line,
                column,
            }) => {
                assert_eq!(max_depth, MAX_DEPTH);
                assert_eq!(line, 1);
                // "[{" plus the key prefix, then levels 3..=MAX_DEPTH are accepted.
                let prefix = r#"[{"tag":"T","value":1,"x":"#.len();
                assert_eq!(column, prefix + (MAX_DEPTH - 2) + 1);
            }
            other => panic!("expected TooDeep, got {other:?}"),
        }
    });
}

#[test]
fn decode_rejects_100_000_nested_objects_without_overflowing_the_stack() {
    on_small_stack(|| {
        let deep = format!(
            r#"{{"tag":"T","value":1,"x":{}1{}}}"#,
            r#"{"x":"#.repeat(100_000),
            "}".repeat(100_000)
        );
        assert!(matches!(
            decode(deep.as_bytes()),
            Err(TagJsonError::TooDeep {
                max_depth: MAX_DEPTH,
                ..
            })
        ));
        // Deep nesting in the value or the name is reported as the wrong kind
        // or too deep, never followed.
        let deep_value = format!(r#"{{"tag":"T","value":{}}}"#, "[".repeat(100_000));
        assert!(matches!(
            decode(deep_value.as_bytes()),
            Err(TagJsonError::TooDeep { .. })
        ));
    });
}

#[test]
fn decode_accepts_nesting_up_to_max_depth_exactly() {
    // The array is level 1, the tag object level 2, so the extra key holds
    // MAX_DEPTH - 2 more levels.
    let nested = |levels: usize| {
        format!(
            r#"[{{"tag":"T","value":1,"x":{}{}}}]"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    assert_eq!(
        decode(nested(MAX_DEPTH - 2).as_bytes())
            .expect("at limit")
            .len(),
        1
    );
    assert!(matches!(
        decode(nested(MAX_DEPTH - 1).as_bytes()),
        Err(TagJsonError::TooDeep { .. })
    ));
}

#[test]
fn decode_handles_10_mb_strings() {
    let big = "x".repeat(10 * 1024 * 1024);
    let payload = format!(r#"[{{"tag":"{big}","value":"{big}","junk":"{big}"}}]"#);
    let tags = decode(payload.as_bytes()).expect("valid");
    assert_eq!(tags[0].name.len(), big.len());
    assert_eq!(tags[0].value, TagValue::Text(big.clone()));

    let escaped = format!(r#"{{"tag":"{}","value":1}}"#, "\\n".repeat(5 * 1024 * 1024));
    assert_eq!(decode_one(&escaped).name.len(), 5 * 1024 * 1024);

    let unterminated = format!(r#"[{{"tag":"{big}"#);
    let (_, column, _) = malformed(unterminated.as_bytes());
    assert_eq!(column, unterminated.len());
}

#[test]
fn decode_handles_10_mb_of_digits() {
    let digits = "1".repeat(10 * 1024 * 1024);
    let (_, _, reason) = malformed(format!(r#"{{"tag":"T","value":{digits}}}"#).as_bytes());
    assert!(reason.contains("out of range"), "{reason}");
    let fraction = format!(r#"{{"tag":"T","value":0.{digits}}}"#);
    assert_eq!(
        decode_one(&fraction).value,
        TagValue::Number(0.1111111111111111)
    );
}

// ------------------------------------------------------------- properties

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\"\\\\/a-zé温😀\u{2028}\u{7f} ]{0,12}",
    ]
}

fn any_value() -> impl Strategy<Value = TagValue> {
    prop_oneof![
        any::<f64>().prop_map(TagValue::Number),
        (-1e7f64..1e7).prop_map(TagValue::Number),
        any::<i64>().prop_map(|i| TagValue::Number(i as f64)),
        any::<bool>().prop_map(TagValue::Bool),
        any_name().prop_map(TagValue::Text),
        Just(TagValue::Null),
    ]
}

/// What a value must decode to: numbers compare by value, and NaN or
/// infinity (written as `null`) come back as `Null`.
fn after_round_trip(value: &TagValue) -> TagValue {
    match value {
        TagValue::Number(number) if !number.is_finite() => TagValue::Null,
        other => other.clone(),
    }
}

fn encode_pairs(tags: &[(String, TagValue)], epoch_millis: i64, utc_offset_minutes: i32) -> String {
    let names: Vec<&str> = tags.iter().map(|(name, _)| name.as_str()).collect();
    let values: Vec<TagValue> = tags.iter().map(|(_, value)| value.clone()).collect();
    encode(&names, &values, epoch_millis, utc_offset_minutes).expect("equal lengths")
}

/// The tag names `decode` finds, or `None` when it rejects the payload.
fn decoded_names(payload: &[u8]) -> Option<Vec<String>> {
    let tags = decode(payload).ok()?;
    Some(tags.into_iter().map(|tag| tag.name).collect())
}

/// The tags a JSON value holds by the decoder's rules, computed
/// independently from serde_json's tree: `None` when it is not tag JSON.
fn oracle_tags(parsed: &Value) -> Option<Vec<Tag>> {
    let elements = match parsed {
        Value::Array(elements) => elements.iter().collect(),
        Value::Object(_) => vec![parsed],
        _ => return None,
    };
    elements
        .into_iter()
        .map(|element| {
            let object = element.as_object()?;
            let value = match object.get("value")? {
                Value::Null => TagValue::Null,
                Value::Bool(flag) => TagValue::Bool(*flag),
                Value::Number(number) => TagValue::Number(number.as_f64()?),
                Value::String(text) => TagValue::Text(text.clone()),
                Value::Array(_) | Value::Object(_) => return None,
            };
            let time = match object.get("time") {
                None => None,
                Some(Value::String(time)) => Some(time.clone()),
                Some(_) => return None,
            };
            Some(Tag {
                name: object.get("tag")?.as_str()?.to_owned(),
                value,
                time,
            })
        })
        .collect()
}

/// The tag names serde_json finds in a payload by the decoder's rules.
fn oracle_names(payload: &[u8]) -> Option<Vec<String>> {
    let without_bom = payload
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(payload);
    let parsed: Value = serde_json::from_slice(without_bom).ok()?;
    let tags = oracle_tags(&parsed)?;
    Some(tags.into_iter().map(|tag| tag.name).collect())
}

fn any_json_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |number| {
            serde_json::Number::from_f64(number).map(Value::Number)
        }),
        any_name().prop_map(Value::String),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    any_json_scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((any_key(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tag".to_owned()),
        Just("value".to_owned()),
        Just("time".to_owned()),
        any_name(),
    ]
}

/// Mostly tag objects, sometimes with a key missing or of the wrong kind.
fn tag_like_object() -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(
            0.95,
            prop_oneof![9 => any_name().prop_map(Value::String), 1 => any_json()],
        ),
        prop::option::weighted(0.95, prop_oneof![9 => any_json_scalar(), 1 => any_json()]),
        prop::option::of(prop_oneof![9 => any_name().prop_map(Value::String), 1 => any_json()]),
        prop::collection::vec((any_name(), any_json()), 0..2),
    )
        .prop_map(|(name, value, time, extra)| {
            let mut object: serde_json::Map<String, Value> = extra.into_iter().collect();
            for (key, field) in [("tag", name), ("value", value), ("time", time)] {
                if let Some(field) = field {
                    object.insert(key.to_owned(), field);
                }
            }
            Value::Object(object)
        })
}

/// Mostly tag JSON, sometimes not.
fn tag_like_payload() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::collection::vec(prop_oneof![19 => tag_like_object(), 1 => any_json()], 0..5)
            .prop_map(Value::Array),
        1 => tag_like_object(),
        1 => any_json(),
    ]
}

fn apply_edits(bytes: &mut Vec<u8>, edits: Vec<(prop::sample::Index, u8, u8)>) {
    for (at, byte, kind) in edits {
        let at = at.index(bytes.len() + 1);
        match kind {
            0 if at < bytes.len() => bytes[at] = byte,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, byte),
        }
    }
}

proptest! {
    #[test]
    fn round_trip_gives_back_names_values_and_time(
        tags in prop::collection::vec((any_name(), any_value()), 0..20),
        // Every time that stays in the years 0000 to 9999 with any offset.
        epoch_millis in -62_167_132_800_000i64..253_402_214_400_000,
        utc_offset_minutes in -1440i32..=1440,
    ) {
        let json = encode_pairs(&tags, epoch_millis, utc_offset_minutes);
        let decoded = decode(json.as_bytes()).expect("own output decodes");
        let time = format_time(epoch_millis, utc_offset_minutes);
        prop_assert_eq!(decoded.len(), tags.len());
        for (decoded, (name, value)) in decoded.iter().zip(&tags) {
            prop_assert_eq!(&decoded.name, name);
            prop_assert_eq!(&decoded.value, &after_round_trip(value));
            prop_assert_eq!(decoded.time.as_deref(), Some(time.as_str()));
        }
    }

    #[test]
    fn encoding_is_json_that_serde_json_reads_the_same(
        tags in prop::collection::vec((any_name(), any_value()), 0..10),
    ) {
        let json = encode_pairs(&tags, 0, 0);
        let parsed: Value = serde_json::from_str(&json).expect("valid JSON");
        let elements = parsed.as_array().expect("an array");
        prop_assert_eq!(elements.len(), tags.len());
        for (element, (name, value)) in elements.iter().zip(&tags) {
            prop_assert_eq!(element.as_object().expect("object").len(), 3);
            prop_assert_eq!(element["tag"].as_str(), Some(name.as_str()));
            prop_assert_eq!(element["time"].as_str(), Some("1970-01-01 00:00:00"));
            match after_round_trip(value) {
                TagValue::Number(number) => {
                    // Exact: this crate enables serde_json's float_roundtrip.
                    prop_assert_eq!(element["value"].as_f64(), Some(number));
                }
                TagValue::Bool(flag) => prop_assert_eq!(element["value"].as_bool(), Some(flag)),
                TagValue::Text(text) => {
                    prop_assert_eq!(element["value"].as_str(), Some(text.as_str()));
                }
                TagValue::Integer(integer) => prop_assert_eq!(element["value"].as_i64(), Some(integer)),
                TagValue::Null => prop_assert!(element["value"].is_null()),
            }
        }
    }

    #[test]
    fn integral_numbers_up_to_2_pow_53_encode_as_json_integers(
        integer in -(1i64 << 53)..=(1i64 << 53),
    ) {
        prop_assert_eq!(encoded_value(TagValue::Number(integer as f64)), integer.to_string());
    }

    #[test]
    fn decode_reads_serde_json_escaped_strings_back(name in any_name()) {
        // serde_json's own escaping, independent of the encoder's use of it.
        let quoted = serde_json::to_string(&name).expect("string");
        let payload = format!(r#"{{"tag":{quoted},"value":1}}"#);
        prop_assert_eq!(decode_one(&payload).name, name);
    }

    #[test]
    fn decode_reads_serde_json_numbers_back_exactly(number in any::<f64>()) {
        prop_assume!(number.is_finite());
        // serde_json writes exponents as e+21, which the encoder never does.
        let written = serde_json::to_string(&number).expect("number");
        let payload = format!(r#"{{"tag":"T","value":{written}}}"#);
        prop_assert_eq!(decode_one(&payload).value, TagValue::Number(number));
    }

    #[test]
    fn every_strict_prefix_of_an_encoding_is_malformed(
        tags in prop::collection::vec((any_name(), any_value()), 1..4),
    ) {
        let json = encode_pairs(&tags, 0, 0);
        for cut in 0..json.len() {
            let result = decode(&json.as_bytes()[..cut]);
            let is_malformed = matches!(result, Err(TagJsonError::Malformed { .. }));
            prop_assert!(is_malformed, "prefix of {} bytes accepted", cut);
        }
    }

    #[test]
    fn decode_agrees_with_serde_json_on_generated_json(
        payload in tag_like_payload(),
        pretty in any::<bool>(),
    ) {
        let text = if pretty {
            serde_json::to_string_pretty(&payload)
        } else {
            serde_json::to_string(&payload)
        }
        .expect("serializable");
        prop_assert_eq!(decode(text.as_bytes()).ok(), oracle_tags(&payload), "{}", text);
    }

    #[test]
    fn decode_agrees_with_serde_json_on_mutated_json(
        payload in tag_like_payload(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    ) {
        let mut bytes = serde_json::to_vec(&payload).expect("serializable");
        apply_edits(&mut bytes, edits);
        prop_assert_eq!(decoded_names(&bytes), oracle_names(&bytes));
    }

    #[test]
    fn decode_agrees_with_serde_json_on_mutated_encodings(
        tags in prop::collection::vec((any_name(), any_value()), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    ) {
        let mut bytes = encode_pairs(&tags, 0, 0).into_bytes();
        apply_edits(&mut bytes, edits);
        prop_assert_eq!(decoded_names(&bytes), oracle_names(&bytes));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(decoded_names(&bytes), oracle_names(&bytes));
    }

    #[test]
    fn format_time_agrees_with_days_from_civil(
        epoch_millis in -100_000_000_000_000i64..100_000_000_000_000,
        utc_offset_minutes in -1440i32..1440,
    ) {
        let formatted = format_time(epoch_millis, utc_offset_minutes);
        let local_millis = epoch_millis + i64::from(utc_offset_minutes) * 60_000;
        let local_seconds = local_millis.div_euclid(1000);
        prop_assert_eq!(parse_time_to_seconds(&formatted), Some(local_seconds), "{}", formatted);
    }

    #[test]
    fn format_time_offset_equals_shifted_epoch(
        epoch_millis in -100_000_000_000_000i64..100_000_000_000_000,
        utc_offset_minutes in any::<i32>(),
    ) {
        let shifted = epoch_millis + i64::from(utc_offset_minutes) * 60_000;
        prop_assert_eq!(format_time(epoch_millis, utc_offset_minutes), format_time(shifted, 0));
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` back to seconds since 1970 with Hinnant's
/// inverse algorithm, `days_from_civil`, as an independent check.
fn parse_time_to_seconds(text: &str) -> Option<i64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (date, time) = text.split_once(' ')?;
    let mut date_parts = date.split('-').map(str::parse::<i64>);
    let mut time_parts = time.split(':').map(str::parse::<i64>);
    let year = date_parts.next()?.ok()?;
    let year = if negative { -year } else { year };
    let (month, day) = (date_parts.next()?.ok()?, date_parts.next()?.ok()?);
    let (hour, minute, second) = (
        time_parts.next()?.ok()?,
        time_parts.next()?.ok()?,
        time_parts.next()?.ok()?,
    );
    if !(1..=12).contains(&month)
        || day < 1
        || day > naive_month_lengths(year)[(month - 1) as usize]
    {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[test]
fn integers_beyond_2_pow_53_are_written_exactly() {
    let values = [
        TagValue::Integer(9_007_199_254_740_993),
        TagValue::Integer(i64::MAX),
        TagValue::Integer(i64::MIN),
        TagValue::Integer(-12),
    ];
    let json = encode(&["a", "b", "c", "d"], &values, 0, 0).expect("encode");
    for expected in [
        "\"value\":9007199254740993,",
        "\"value\":9223372036854775807,",
        "\"value\":-9223372036854775808,",
        "\"value\":-12,",
    ] {
        assert!(json.contains(expected), "{expected} not in {json}");
    }
    // decode reads every number as f64 (the Java API returns Double).
    let decoded = decode(json.as_bytes()).expect("decode");
    assert_eq!(decoded[3].value, TagValue::Number(-12.0));
}
