package org.etkmqtt;

/**
 * The Flexy tag-JSON format,
 * {@code [{"tag":"T1","value":12.5,"time":"2024-05-01 13:45:10"}]}, encoded and
 * decoded by the native library: names and strings are escaped per RFC 8259,
 * integral numbers are written without a fraction ({@code 12}), NaN and
 * infinities as {@code null}. Unlike string concatenation, a quote or a
 * backslash in a tag name cannot break the JSON, and encoding allocates only
 * the result on the Java heap.
 */
public final class TagJson {
    private TagJson() {
    }

    /**
     * Encodes tags as a JSON array, all with the same time.
     *
     * @param names the tag names; none may be {@code null}
     * @param values the values, one per name: a {@link Number} (Double,
     *        Float, Integer, Long, ...), a {@link Boolean}, a {@link String}
     *        or {@code null}
     * @param epochMillis the time of the readings, milliseconds since
     *        1970-01-01 UTC (as {@link System#currentTimeMillis()})
     * @param utcOffsetMinutes added to the time before formatting it as
     *        {@code YYYY-MM-DD HH:MM:SS} (0 writes UTC)
     * @return the JSON text
     * @throws EWException when the arrays are null or of different lengths, a
     *         name is null, or a value has an unsupported type; the message
     *         names the element
     */
    public static String encode(String[] names, Object[] values, long epochMillis, int utcOffsetMinutes)
            throws EWException {
        checkArrays(names, values);
        NativeLoader.load();
        return NativeTagJson.encode(names, values, epochMillis, utcOffsetMinutes);
    }

    /**
     * Decodes a tag-JSON payload: an array of tag objects or one tag object.
     * Keys other than {@code tag}, {@code value} and {@code time} are ignored.
     *
     * @param payload the UTF-8 JSON bytes, for example a message payload
     * @return the tags in order
     * @throws EWException when the payload is null, not valid UTF-8 or JSON,
     *         or an element is not a tag; the message says which and why
     */
    public static TagValue[] decode(byte[] payload) throws EWException {
        if (payload == null) {
            throw new EWException("TagJson.decode: payload must not be null");
        }
        NativeLoader.load();
        return NativeTagJson.decode(payload);
    }

    static void checkArrays(String[] names, Object[] values) throws EWException {
        if (names == null || values == null) {
            throw new EWException("tag names and values must not be null");
        }
        if (names.length != values.length) {
            throw new EWException("tag names and values differ in length: " + names.length + " names, "
                    + values.length + " values");
        }
    }
}
