package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Date;
import java.util.Iterator;
import java.util.Random;

import org.etkmqtt.harness.ClientTestSupport;
import org.junit.Test;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@link TagJson#encode} and {@link TagJson#decode} through the jar and JNI:
 * the exact Flexy format, RFC 8259 escapes checked with a real JSON parser
 * (Jackson, strict: no NaN, no unescaped control characters, no trailing
 * tokens), errors that name the element, hostile payloads, and round trips.
 */
public class TagJsonTest extends ClientTestSupport {
    /** 2024-05-01 13:45:10 UTC. */
    private static final long MAY_1_13_45_10 = 1714571110000L;

    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final DateTimeFormatter FLEXY_TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");

    // ---- encode: the exact format ----

    @Test
    public void encode_writes_exact_flexy_format() throws Exception {
        assertEquals("[{\"tag\":\"T1\",\"value\":12.5,\"time\":\"2024-05-01 13:45:10\"}]",
                TagJson.encode(new String[] {"T1"}, new Object[] {Double.valueOf(12.5)}, MAY_1_13_45_10, 0));
    }

    @Test
    public void encode_writes_several_tags_in_order_without_whitespace() throws Exception {
        String json = TagJson.encode(new String[] {"A", "B", "C", "D"},
                new Object[] {Double.valueOf(1.5), Boolean.TRUE, "x", null}, MAY_1_13_45_10, 0);
        assertEquals("[{\"tag\":\"A\",\"value\":1.5,\"time\":\"2024-05-01 13:45:10\"},"
                + "{\"tag\":\"B\",\"value\":true,\"time\":\"2024-05-01 13:45:10\"},"
                + "{\"tag\":\"C\",\"value\":\"x\",\"time\":\"2024-05-01 13:45:10\"},"
                + "{\"tag\":\"D\",\"value\":null,\"time\":\"2024-05-01 13:45:10\"}]", json);
        assertValidTagJson(json, 4);
    }

    @Test
    public void encode_writes_integral_numbers_without_fraction() throws Exception {
        Object[] values = {Integer.valueOf(12), Long.valueOf(12), Double.valueOf(12.0), Float.valueOf(12.0f),
            Short.valueOf((short) 12), Byte.valueOf((byte) 12), new java.math.BigDecimal("12.000"),
            new java.util.concurrent.atomic.AtomicInteger(12)};
        for (int i = 0; i < values.length; i++) {
            assertEquals(values[i].getClass().getName(), "12", encodedValue(values[i]));
        }
        assertEquals("-7", encodedValue(Integer.valueOf(-7)));
        assertEquals("0", encodedValue(Double.valueOf(-0.0)));
        assertEquals("2147483647", encodedValue(Integer.valueOf(Integer.MAX_VALUE)));
        assertEquals("-2147483648", encodedValue(Integer.valueOf(Integer.MIN_VALUE)));
        // Every integer up to 2^53 is exact in a double and written as digits.
        assertEquals("9007199254740992", encodedValue(Long.valueOf(9007199254740992L)));
        assertEquals("-9007199254740991", encodedValue(Long.valueOf(-9007199254740991L)));
        assertEquals("1000000", encodedValue(Double.valueOf(1e6)));
    }

    @Test
    public void encode_writes_fractions_in_shortest_round_trip_form() throws Exception {
        assertEquals("12.5", encodedValue(Double.valueOf(12.5)));
        assertEquals("0.1", encodedValue(Double.valueOf(0.1)));
        assertEquals("-3.25", encodedValue(Double.valueOf(-3.25)));
        assertEquals("1e-7", encodedValue(Double.valueOf(1e-7)));
        assertEquals("1e21", encodedValue(Double.valueOf(1e21)));
        assertEquals("12.5", encodedValue(Float.valueOf(12.5f)));
        double[] samples = {Math.PI, -Math.E, Double.MIN_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE, 1e-300,
            123456.789, 0.1 + 0.2, 4.35, 9007199254740993.0 * 3};
        for (int i = 0; i < samples.length; i++) {
            String text = encodedValue(Double.valueOf(samples[i]));
            assertEquals(text, samples[i], JSON.readTree(text).doubleValue(), 0.0);
        }
    }

    @Test
    public void encode_writes_float_values_that_read_back_as_the_same_float() throws Exception {
        float[] samples = {0.1f, 3.3f, -1.7f, Float.MIN_VALUE, Float.MAX_VALUE, 1234.5677f};
        for (int i = 0; i < samples.length; i++) {
            String text = encodedValue(Float.valueOf(samples[i]));
            assertEquals(text, samples[i], (float) JSON.readTree(text).doubleValue(), 0.0f);
        }
    }

    @Test
    public void encode_writes_booleans_and_null() throws Exception {
        assertEquals("true", encodedValue(Boolean.TRUE));
        assertEquals("false", encodedValue(Boolean.FALSE));
        assertEquals("null", encodedValue(null));
    }

    @Test
    public void encode_writes_nan_and_infinities_as_null() throws Exception {
        Object[] values = {Double.valueOf(Double.NaN), Double.valueOf(Double.POSITIVE_INFINITY),
            Double.valueOf(Double.NEGATIVE_INFINITY), Float.valueOf(Float.NaN), Float.valueOf(Float.POSITIVE_INFINITY),
            Float.valueOf(Float.NEGATIVE_INFINITY), new java.math.BigInteger("1" + repeat('0', 400))};
        for (int i = 0; i < values.length; i++) {
            assertEquals(String.valueOf(values[i]), "null", encodedValue(values[i]));
        }
        String json = TagJson.encode(new String[] {"n", "i"},
                new Object[] {Double.valueOf(Double.NaN), Double.valueOf(Double.POSITIVE_INFINITY)}, 0, 0);
        assertValidTagJson(json, 2);
    }

    @Test
    public void encode_escapes_strings_per_rfc_8259() throws Exception {
        assertEquals("\"say \\\"hi\\\"\"", encodedValue("say \"hi\""));
        assertEquals("\"C:\\\\temp\\\\x\"", encodedValue("C:\\temp\\x"));
        assertEquals("\"a\\nb\\rc\\td\"", encodedValue("a\nb\rc\td"));
        assertEquals("\"\\b\\f\"", encodedValue("\b\f"));
        assertEquals("\"\\u0000\\u0001\\u001f\"", encodedValue("\u0000\u0001\u001f"));
        // Non-ASCII is written as UTF-8, which RFC 8259 allows; '/' and DEL need no escape.
        assertEquals("\"é€漢字 😀 /\u007f\u2028\"", encodedValue("é€漢字 😀 /\u007f\u2028"));
        assertEquals("\"\"", encodedValue(""));

        String[] hostile = {"\"", "\\", "\"}]", "\\\"", "\n", "'", "</script>", "\u0000", "😀", "\"value\":1,",
            "\ud83d\ude00\ud83c\udf89"};
        for (int i = 0; i < hostile.length; i++) {
            String json = TagJson.encode(new String[] {hostile[i]}, new Object[] {hostile[i]}, MAY_1_13_45_10, 0);
            JsonNode tag = assertValidTagJson(json, 1).get(0);
            assertEquals(hostile[i], tag.get("tag").textValue());
            assertEquals(hostile[i], tag.get("value").textValue());
        }
    }

    @Test
    public void encode_escapes_tag_names() throws Exception {
        String json = TagJson.encode(new String[] {"a\"b\\c\nd"}, new Object[] {Integer.valueOf(1)}, MAY_1_13_45_10,
                0);
        assertEquals("[{\"tag\":\"a\\\"b\\\\c\\nd\",\"value\":1,\"time\":\"2024-05-01 13:45:10\"}]", json);
    }

    @Test
    public void encode_of_empty_arrays_is_empty_json_array() throws Exception {
        assertEquals("[]", TagJson.encode(new String[0], new Object[0], MAY_1_13_45_10, 0));
        assertEquals(0, TagJson.decode("[]".getBytes(StandardCharsets.UTF_8)).length);
    }

    @Test
    public void encode_shifts_time_by_utc_offset_across_midnight_month_and_year() throws Exception {
        assertEquals("2024-05-01 13:45:10", encodedTime(MAY_1_13_45_10, 0));
        assertEquals("2024-05-01 14:45:10", encodedTime(MAY_1_13_45_10, 60));
        assertEquals("2024-05-01 08:15:10", encodedTime(MAY_1_13_45_10, -330));
        // 2024-05-01 23:30:00 UTC
        assertEquals("2024-05-02 00:30:00", encodedTime(1714606200000L, 60));
        // 2024-05-01 00:30:00 UTC
        assertEquals("2024-04-30 23:30:00", encodedTime(1714523400000L, -60));
        // 2023-12-31 23:59:59 UTC
        assertEquals("2024-01-01 00:59:59", encodedTime(1704067199000L, 60));
        // 2024-02-28 23:30:00 UTC: into the leap day, and out of it
        assertEquals("2024-02-29 00:30:00", encodedTime(1709163000000L, 60));
        assertEquals("2024-03-01 00:30:00", encodedTime(1709163000000L + 86_400_000L, 60));
        assertEquals("2024-05-02 13:45:10", encodedTime(MAY_1_13_45_10, 1440));
        assertEquals("2024-04-30 13:45:10", encodedTime(MAY_1_13_45_10, -1440));
    }

    @Test
    public void encode_drops_milliseconds_towards_the_past() throws Exception {
        assertEquals("2024-05-01 13:45:10", encodedTime(MAY_1_13_45_10 + 999, 0));
        assertEquals("1970-01-01 00:00:00", encodedTime(0, 0));
        assertEquals("1969-12-31 23:59:59", encodedTime(-1, 0));
    }

    @Test
    public void encode_time_matches_java_time_for_random_instants_and_offsets() throws Exception {
        Random random = new Random(20240501L);
        for (int i = 0; i < 500; i++) {
            // Years 1 to 9999, where java.time and the Flexy format agree on the spelling.
            long millis = -62135596800000L + (long) (random.nextDouble() * 315537897599000.0);
            int offset = random.nextInt(2881) - 1440;
            assertEquals("millis " + millis + " offset " + offset, expectedTime(millis, offset),
                    encodedTime(millis, offset));
        }
    }

    // ---- encode: errors name the element and the reason ----

    @Test
    public void encode_refuses_offsets_beyond_a_day_and_times_outside_years_0000_to_9999() {
        String[] names = {"T1"};
        Object[] values = {Integer.valueOf(1)};
        EWException e = expectEW(() -> TagJson.encode(names, values, MAY_1_13_45_10, Integer.MAX_VALUE));
        assertContains("2147483647 minutes", e.getMessage());
        assertContains("one day either way", e.getMessage());
        assertContains("-2147483648 minutes",
                expectEW(() -> TagJson.encode(names, values, MAY_1_13_45_10, Integer.MIN_VALUE)).getMessage());
        e = expectEW(() -> TagJson.encode(names, values, Long.MIN_VALUE, 0));
        assertContains("year -292275055", e.getMessage());
        assertContains("0000 to 9999", e.getMessage());
        // 9999-12-31 23:59:59 UTC is the last time that can be written.
        assertContains("year 10000",
                expectEW(() -> TagJson.encode(names, values, 253402300799000L, 1)).getMessage());
    }

    @Test
    public void encode_rejects_arrays_of_different_length() {
        EWException e = expectEW(() -> TagJson.encode(new String[] {"a", "b"}, new Object[] {Integer.valueOf(1)},
                0, 0));
        assertContains("2 names", e.getMessage());
        assertContains("1 value", e.getMessage());
    }

    @Test
    public void encode_rejects_null_arrays() {
        assertContains("must not be null", expectEW(() -> TagJson.encode(null, new Object[0], 0, 0)).getMessage());
        assertContains("must not be null", expectEW(() -> TagJson.encode(new String[0], null, 0, 0)).getMessage());
    }

    @Test
    public void encode_rejects_null_name_naming_its_index() {
        EWException e = expectEW(() -> TagJson.encode(new String[] {"a", "b", null},
                new Object[] {Integer.valueOf(1), Integer.valueOf(2), Integer.valueOf(3)}, 0, 0));
        assertContains("index 2", e.getMessage());
        assertContains("null", e.getMessage());
    }

    @Test
    public void encode_rejects_unsupported_value_type_naming_index_and_class() {
        EWException e = expectEW(() -> TagJson.encode(new String[] {"a", "b", "c"},
                new Object[] {Integer.valueOf(1), "two", new Date(0)}, 0, 0));
        assertContains("2", e.getMessage());
        assertContains("java.util.Date", e.getMessage());
        assertContains("supported", e.getMessage());

        Object[] unsupported = {Character.valueOf('x'), new int[] {1}, new Object(), new StringBuffer("s")};
        for (int i = 0; i < unsupported.length; i++) {
            Object value = unsupported[i];
            EWException each = expectEW(() -> TagJson.encode(new String[] {"t0", "t1"},
                    new Object[] {null, value}, 0, 0));
            assertContains("value 1", each.getMessage());
            assertContains(value.getClass().getName(), each.getMessage());
        }
    }

    @Test
    public void encode_still_works_after_errors() throws Exception {
        for (int i = 0; i < 50; i++) {
            expectEW(() -> TagJson.encode(new String[] {"a"}, new Object[] {new Date()}, 0, 0));
            expectEW(() -> TagJson.encode(new String[] {null}, new Object[] {null}, 0, 0));
        }
        assertEquals("[{\"tag\":\"a\",\"value\":1,\"time\":\"1970-01-01 00:00:00\"}]",
                TagJson.encode(new String[] {"a"}, new Object[] {Integer.valueOf(1)}, 0, 0));
    }

    // ---- decode ----

    @Test
    public void decode_reads_array_with_every_value_type() throws Exception {
        TagValue[] tags = decode("[{\"tag\":\"n\",\"value\":12.5,\"time\":\"2024-05-01 13:45:10\"},"
                + "{\"tag\":\"i\",\"value\":42},{\"tag\":\"b\",\"value\":false},{\"tag\":\"s\",\"value\":\"a\\\"\\u00e9\"},"
                + "{\"tag\":\"z\",\"value\":null,\"time\":\"t\"}]");
        assertEquals(5, tags.length);
        assertTag(tags[0], "n", Double.valueOf(12.5), "2024-05-01 13:45:10");
        assertTag(tags[1], "i", Double.valueOf(42), null);
        assertTag(tags[2], "b", Boolean.FALSE, null);
        assertTag(tags[3], "s", "a\"é", null);
        assertTag(tags[4], "z", null, "t");
    }

    @Test
    public void decode_reads_a_single_object_as_one_tag() throws Exception {
        TagValue[] tags = decode("{\"tag\":\"Setpoint\",\"value\":42}");
        assertEquals(1, tags.length);
        assertTag(tags[0], "Setpoint", Double.valueOf(42), null);
    }

    @Test
    public void decode_ignores_other_keys_whitespace_and_a_byte_order_mark() throws Exception {
        TagValue[] tags = decode("\ufeff [ { \"unit\" : \"degC\", \"value\" : -1e2 , \"tag\" : \"T\","
                + " \"extra\": {\"a\":[1,2,{}]} } ]\n");
        assertEquals(1, tags.length);
        assertTag(tags[0], "T", Double.valueOf(-100), null);
    }

    @Test
    public void decode_errors_name_the_element_and_why() {
        assertContains("element 1", decodeError("[{\"tag\":\"a\",\"value\":1},{\"value\":2}]"));
        assertContains("\"tag\"", decodeError("[{\"tag\":\"a\",\"value\":1},{\"value\":2}]"));
        assertContains("\"value\"", decodeError("[{\"tag\":\"a\"}]"));
        assertContains("element 2", decodeError("[{\"tag\":\"a\",\"value\":1},{\"tag\":\"b\",\"value\":1},7]"));
        assertContains("array", decodeError("[{\"tag\":\"a\",\"value\":[1]}]"));
        assertContains("string", decodeError("[{\"tag\":1,\"value\":1}]"));
        assertContains("time", decodeError("[{\"tag\":\"a\",\"value\":1,\"time\":5}]"));
        assertContains("array of tag objects", decodeError("\"just a string\""));
        assertContains("array of tag objects", decodeError("42"));
    }

    @Test
    public void decode_rejects_malformed_json_with_position() {
        String[] malformed = {"", " ", "[", "{", "[{\"tag\":\"a\",\"value\":1}", "[{\"tag\":\"a\",\"value\":1},]",
            "[{\"tag\":\"a\",\"value\":NaN}]", "[{\"tag\":\"a\",\"value\":01}]", "[{\"tag\":\"a\",\"value\":1}]x",
            "[{'tag':'a','value':1}]", "[{\"tag\":\"a\",\"value\":\"\\ud800\"}]", "[{\"tag\":\"a\",\"value\":\"\\x\"}]",
            "[{\"tag\":\"a\",\"value\":\"tab\there\"}]", "[{\"tag\":\"a\",\"value\":1e400}]", "nul", "[{\"tag\"}]"};
        for (int i = 0; i < malformed.length; i++) {
            String message = decodeError(malformed[i]);
            assertContains("line 1", message);
        }
    }

    @Test
    public void decode_rejects_invalid_utf8() {
        byte[][] invalid = {{(byte) 0xff}, bytes("[{\"tag\":\"a\",\"value\":\"", new byte[] {(byte) 0xc3, 0x28}, "\"}]"),
            // overlong '/'
            bytes("[{\"tag\":\"", new byte[] {(byte) 0xc0, (byte) 0xaf}, "\",\"value\":1}]"),
            // an encoded surrogate (CESU-8 / modified UTF-8, as JNI strings use)
            bytes("[{\"tag\":\"", new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, "\",\"value\":1}]"),
            // truncated 4-byte sequence at the end
            bytes("[{\"tag\":\"a\",\"value\":\"", new byte[] {(byte) 0xf0, (byte) 0x9f}, "")};
        for (int i = 0; i < invalid.length; i++) {
            byte[] payload = invalid[i];
            assertContains("invalid UTF-8", expectEW(() -> TagJson.decode(payload)).getMessage());
        }
    }

    @Test
    public void decode_rejects_null_payload() {
        assertContains("null", expectEW(() -> TagJson.decode(null)).getMessage());
    }

    @Test
    public void decode_of_10000_levels_of_nesting_is_an_error_not_a_crash() {
        assertContains("deeper", decodeError(repeat('[', 10_000)));
        assertContains("deeper", decodeError(repeat('[', 10_000) + repeat(']', 10_000)));
        // '{' must be followed by a key, so this fails before it gets deep.
        assertContains("string key", decodeError(repeat('{', 10_000)));
        assertContains("deeper", decodeError("[{\"tag\":\"a\",\"value\":1,\"x\":" + repeat('[', 10_000)
                + repeat(']', 10_000) + "}]"));
        StringBuilder objects = new StringBuilder();
        for (int i = 0; i < 10_000; i++) {
            objects.append("{\"a\":");
        }
        assertContains("deeper", decodeError(objects.toString()));
        // Still usable afterwards.
        assertEquals(1, decodeOk("[{\"tag\":\"a\",\"value\":1}]").length);
    }

    @Test
    public void decode_of_10_mb_string_value_returns_it() throws Exception {
        int length = 10 * 1024 * 1024;
        StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            text.append((char) ('a' + i % 26));
        }
        String big = text.toString();
        TagValue[] tags = decode("[{\"tag\":\"big\",\"value\":\"" + big + "\"}]");
        assertEquals(1, tags.length);
        assertEquals(big, tags[0].getValue());
        // The same length as a name, and unterminated.
        assertEquals(big, decode("{\"tag\":\"" + big + "\",\"value\":null}")[0].getName());
        assertContains("end of input", decodeError("[{\"tag\":\"big\",\"value\":\"" + big));
    }

    @Test
    public void decode_of_many_hostile_byte_strings_never_crashes() {
        Random random = new Random(8259);
        byte[] alphabet = "[]{}\",:\\0123456789.eE+-truefalsnl \t\n\"tag\"\"value\"\"time\"".getBytes(
                StandardCharsets.UTF_8);
        byte[] valid = "[{\"tag\":\"a\\u00e9\",\"value\":1.5e3,\"time\":\"x\"},{\"tag\":\"b\",\"value\":true}]"
                .getBytes(StandardCharsets.UTF_8);
        int decoded = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] payload;
            if (i % 2 == 0) {
                payload = new byte[random.nextInt(64)];
                for (int j = 0; j < payload.length; j++) {
                    payload[j] = random.nextInt(10) == 0 ? (byte) random.nextInt(256)
                            : alphabet[random.nextInt(alphabet.length)];
                }
            } else {
                // A valid payload with one byte changed, removed or cut short.
                payload = valid.clone();
                int at = random.nextInt(payload.length);
                payload[at] = (byte) random.nextInt(256);
                if (random.nextBoolean()) {
                    payload = Arrays.copyOf(payload, random.nextInt(payload.length));
                }
            }
            try {
                TagValue[] tags = TagJson.decode(payload);
                for (int t = 0; t < tags.length; t++) {
                    assertTrue(tags[t].getName() != null);
                }
                decoded++;
            } catch (EWException e) {
                assertTrue(e.getMessage(), e.getMessage() != null && e.getMessage().length() > 0);
            }
        }
        assertTrue("some mutated payloads stay valid: " + decoded, decoded > 0);
    }

    // ---- round trips and size ----

    @Test
    public void decode_of_encode_gives_the_tags_back_for_random_inputs() throws Exception {
        Random random = new Random(1714571110L);
        for (int round = 0; round < 400; round++) {
            int count = random.nextInt(12);
            String[] names = new String[count];
            Object[] values = new Object[count];
            for (int i = 0; i < count; i++) {
                names[i] = randomString(random);
                values[i] = randomValue(random);
            }
            long millis = -62135596800000L + (long) (random.nextDouble() * 315537897599000.0);
            int offset = random.nextInt(2881) - 1440;
            String json = TagJson.encode(names, values, millis, offset);
            String context = "round " + round + ": " + json;

            JsonNode tree = assertValidTagJson(json, count);
            TagValue[] tags = TagJson.decode(json.getBytes(StandardCharsets.UTF_8));
            assertEquals(context, count, tags.length);
            String time = expectedTime(millis, offset);
            for (int i = 0; i < count; i++) {
                if (isFiniteFloat(values[i])) {
                    // A Float is written in its shortest form (0.1f as 0.1), which
                    // reads back as a double that converts to the same float.
                    float original = ((Float) values[i]).floatValue();
                    assertEquals(context, names[i], tags[i].getName());
                    assertEquals(context, original, ((Double) tags[i].getValue()).floatValue(), 0.0f);
                    assertEquals(context, original, (float) tree.get(i).get("value").doubleValue(), 0.0f);
                    continue;
                }
                Object expected = expectedDecoded(values[i]);
                assertTag(tags[i], names[i], expected, time);
                // The independent parser reads the same.
                JsonNode node = tree.get(i);
                assertEquals(context, names[i], node.get("tag").textValue());
                assertEquals(context, time, node.get("time").textValue());
                assertEquals(context, expected, jacksonValue(node.get("value")));
            }
        }
    }

    @Test
    public void encode_and_decode_10000_tags() throws Exception {
        int count = 10_000;
        String[] names = new String[count];
        Object[] values = new Object[count];
        for (int i = 0; i < count; i++) {
            names[i] = "Tag" + i;
            switch (i % 4) {
                case 0:
                    values[i] = Double.valueOf(i + 0.25);
                    break;
                case 1:
                    values[i] = Integer.valueOf(i);
                    break;
                case 2:
                    values[i] = (i % 8 == 2) ? Boolean.TRUE : Boolean.FALSE;
                    break;
                default:
                    values[i] = "v\"" + i;
            }
        }
        String json = TagJson.encode(names, values, MAY_1_13_45_10, 0);
        JsonNode tree = assertValidTagJson(json, count);
        assertEquals("Tag9999", tree.get(9999).get("tag").textValue());
        assertEquals("1", tree.get(1).get("value").toString());
        TagValue[] tags = TagJson.decode(json.getBytes(StandardCharsets.UTF_8));
        assertEquals(count, tags.length);
        for (int i = 0; i < count; i++) {
            assertTag(tags[i], names[i], expectedDecoded(values[i]), "2024-05-01 13:45:10");
        }
    }

    // ---- numbers and references that were once wrong ----

    @Test
    public void encode_writes_every_long_exactly() throws Exception {
        assertEquals("9007199254740993", encodedValue(Long.valueOf(9007199254740993L)));
        assertEquals("9223372036854775807", encodedValue(Long.valueOf(Long.MAX_VALUE)));
    }

    @Test
    public void encode_writes_floats_in_shortest_float_form() throws Exception {
        assertEquals("0.1", encodedValue(Float.valueOf(0.1f)));
        assertEquals("3.3", encodedValue(Float.valueOf(3.3f)));
    }

    @Test
    public void encode_of_10000_string_tags_stays_within_jni_local_reference_capacity() throws Exception {
        String javaBinary = new java.io.File(System.getProperty("java.home"), "bin/java").getPath();
        ProcessBuilder builder = new ProcessBuilder(javaBinary, "-Xcheck:jni",
                "-Djava.library.path=" + System.getProperty("java.library.path"), "-cp",
                System.getProperty("etkmqtt.childClasspath", System.getProperty("java.class.path")),
                ManyStringTags.class.getName()).redirectErrorStream(true);
        Process process = org.etkmqtt.harness.ProcessGuard.start(builder);
        process.getOutputStream().close();
        java.io.ByteArrayOutputStream collected = new java.io.ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int n; (n = process.getInputStream().read(buffer)) > 0;) {
            collected.write(buffer, 0, n);
        }
        String output = new String(collected.toByteArray(), StandardCharsets.UTF_8);
        assertTrue("child JVM did not exit", process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        org.etkmqtt.harness.ProcessGuard.forget(process);
        assertEquals(output, 0, process.exitValue());
        assertTrue(output, output.contains("encoded 10000 tags"));
        assertFalse("-Xcheck:jni warned:\n" + abbreviate(output), output.contains("WARNING: JNI local refs"));
    }

    /** Run in a child JVM under -Xcheck:jni, whose warnings go to the process's stdout. */
    public static final class ManyStringTags {
        public static void main(String[] args) throws Exception {
            int count = 10_000;
            String[] names = new String[count];
            Object[] values = new Object[count];
            for (int i = 0; i < count; i++) {
                names[i] = "Tag" + i;
                values[i] = "value " + i;
            }
            String json = TagJson.encode(names, values, MAY_1_13_45_10, 0);
            TagValue[] tags = TagJson.decode(json.getBytes(StandardCharsets.UTF_8));
            System.out.println("encoded " + tags.length + " tags");
        }
    }

    // ---- helpers ----

    /** Parses {@code json} strictly and checks the tag-JSON shape; returns the array. */
    static JsonNode assertValidTagJson(String json, int expectedCount) throws Exception {
        JsonNode tree;
        try {
            tree = JSON.readTree(json);
        } catch (Exception e) {
            throw new AssertionError("not valid JSON (" + e.getMessage() + "): " + abbreviate(json), e);
        }
        assertTrue("not an array: " + abbreviate(json), tree.isArray());
        assertEquals(expectedCount, tree.size());
        for (int i = 0; i < tree.size(); i++) {
            JsonNode element = tree.get(i);
            assertTrue("element " + i + " not an object", element.isObject());
            Iterator<String> keys = element.fieldNames();
            assertEquals("tag", keys.next());
            assertEquals("value", keys.next());
            assertEquals("time", keys.next());
            assertFalse("extra keys in element " + i, keys.hasNext());
            assertTrue(element.get("tag").isTextual());
            assertTrue(element.get("value").isValueNode());
            assertTrue(element.get("time").textValue().matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d"));
        }
        return tree;
    }

    private static String encodedValue(Object value) throws Exception {
        String json = TagJson.encode(new String[] {"t"}, new Object[] {value}, MAY_1_13_45_10, 0);
        String prefix = "[{\"tag\":\"t\",\"value\":";
        String suffix = ",\"time\":\"2024-05-01 13:45:10\"}]";
        assertTrue(json, json.startsWith(prefix) && json.endsWith(suffix));
        assertValidTagJson(json, 1);
        return json.substring(prefix.length(), json.length() - suffix.length());
    }

    private static String encodedTime(long millis, int offset) throws Exception {
        String json = TagJson.encode(new String[] {"t"}, new Object[] {null}, millis, offset);
        return assertValidTagJson(json, 1).get(0).get("time").textValue();
    }

    static String expectedTime(long millis, int offsetMinutes) {
        long seconds = Math.floorDiv(millis, 1000L) + offsetMinutes * 60L;
        return LocalDateTime.ofEpochSecond(seconds, 0, ZoneOffset.UTC).format(FLEXY_TIME);
    }

    private static TagValue[] decode(String json) throws EWException {
        return TagJson.decode(json.getBytes(StandardCharsets.UTF_8));
    }

    private static TagValue[] decodeOk(String json) {
        try {
            return decode(json);
        } catch (EWException e) {
            throw new AssertionError(e);
        }
    }

    private static String decodeError(String json) {
        String message = expectEW(() -> decode(json)).getMessage();
        assertTrue("empty message for " + abbreviate(json), message != null && message.length() > 0);
        return message;
    }

    private static void assertTag(TagValue tag, String name, Object value, String time) {
        assertEquals(name, tag.getName());
        assertEquals("value of " + name, value, tag.getValue());
        assertEquals("time of " + name, time, tag.getTime());
    }

    /** What decode gives for an encoded value: numbers as Double, NaN/infinity as null. */
    private static boolean isFiniteFloat(Object value) {
        return value instanceof Float && !((Float) value).isNaN() && !((Float) value).isInfinite();
    }

    private static Object expectedDecoded(Object value) {
        if (value instanceof Number) {
            double d = ((Number) value).doubleValue();
            return Double.isNaN(d) || Double.isInfinite(d) ? null : Double.valueOf(d == 0.0 ? 0.0 : d);
        }
        return value;
    }

    private static Object jacksonValue(JsonNode node) {
        if (node.isNull()) {
            return null;
        }
        if (node.isNumber()) {
            return Double.valueOf(node.doubleValue());
        }
        if (node.isBoolean()) {
            return Boolean.valueOf(node.booleanValue());
        }
        if (node.isTextual()) {
            return node.textValue();
        }
        fail("unexpected value " + node);
        return null;
    }

    private static Object randomValue(Random random) {
        switch (random.nextInt(9)) {
            case 0:
                return null;
            case 1:
                return Boolean.valueOf(random.nextBoolean());
            case 2:
                return randomString(random);
            case 3:
                return Integer.valueOf(random.nextInt());
            case 4:
                // Longs within ±2^53, exact in a double.
                return Long.valueOf((random.nextLong() >> 11));
            case 5:
                return Float.valueOf(Float.intBitsToFloat(random.nextInt()));
            case 6:
                return Double.valueOf(random.nextInt(2_000_000) / 100.0 - 10_000);
            case 7:
                return Double.valueOf(random.nextInt(20) == 0 ? Double.NaN : random.nextGaussian() * 1e6);
            default:
                // Any bit pattern: subnormals, huge exponents, NaN, infinities.
                return Double.valueOf(Double.longBitsToDouble(random.nextLong()));
        }
    }

    private static String randomString(Random random) {
        int length = random.nextInt(16);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < length; i++) {
            switch (random.nextInt(8)) {
                case 0:
                    text.append("\"\\/".charAt(random.nextInt(3)));
                    break;
                case 1:
                    text.append((char) random.nextInt(0x20));
                    break;
                case 2:
                    text.append((char) (0x7f + random.nextInt(0x81)));
                    break;
                case 3:
                    char c;
                    do {
                        c = (char) (0x100 + random.nextInt(0xfeff));
                    } while (Character.isSurrogate(c));
                    text.append(c);
                    break;
                case 4:
                    text.appendCodePoint(0x10000 + random.nextInt(0x100000));
                    break;
                default:
                    text.append((char) (0x20 + random.nextInt(0x5f)));
            }
        }
        return text.toString();
    }

    private static byte[] bytes(String before, byte[] middle, String after) {
        byte[] a = before.getBytes(StandardCharsets.UTF_8);
        byte[] c = after.getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[a.length + middle.length + c.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(middle, 0, all, a.length, middle.length);
        System.arraycopy(c, 0, all, a.length + middle.length, c.length);
        return all;
    }

    private static String repeat(char c, int count) {
        char[] chars = new char[count];
        Arrays.fill(chars, c);
        return new String(chars);
    }

    private static String abbreviate(String text) {
        return text.length() > 300 ? text.substring(0, 300) + "... (" + text.length() + " chars)" : text;
    }
}
