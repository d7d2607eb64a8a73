package org.etkmqtt;

/**
 * One element of a tag-JSON payload, as returned by {@link TagJson#decode(byte[])}:
 * {@code {"tag":"Name","value":12.5,"time":"2024-05-01 13:45:10"}}; or one
 * metric written by a Sparkplug command, as returned by
 * {@link SparkplugNode#decodeCommand(MqttMessage)}.
 */
public final class TagValue {
    private final String name;
    private final Object value;
    private final String time;

    /** Used by the native library. */
    TagValue(String name, Object value, String time) {
        this.name = name;
        this.value = value;
        this.time = time;
    }

    /**
     * Returns the tag name (the {@code tag} key).
     *
     * @return the name, never {@code null}
     */
    public String getName() {
        return name;
    }

    /**
     * Returns the value: for tag JSON a {@link Double} for a number, a
     * {@link Boolean}, a {@link String}, or {@code null} for JSON {@code null};
     * for a Sparkplug command an {@link Integer}, {@link Long}, {@link Float},
     * {@link Double}, {@link Boolean}, {@link String} or {@code null}.
     *
     * @return the value
     */
    public Object getValue() {
        return value;
    }

    /**
     * Returns the {@code time} key as written, for example
     * {@code "2024-05-01 13:45:10"}; for a Sparkplug command the metric's
     * timestamp in milliseconds since 1970 as decimal text.
     *
     * @return the time, or {@code null} when the element has none
     */
    public String getTime() {
        return time;
    }

    /**
     * Describes the tag.
     *
     * @return name, value and time
     */
    public String toString() {
        return "TagValue[" + name + "=" + value + (time != null ? " @ " + time : "") + "]";
    }
}
