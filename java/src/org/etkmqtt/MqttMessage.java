package org.etkmqtt;

import java.io.UnsupportedEncodingException;

/**
 * An MQTT application message: a topic and a payload. Mirrors
 * {@code com.ewon.ewonitf.MqttMessage}.
 *
 * <p>{@link MqttClient#readMessage()} returns a message whose topic is
 * {@code null} when no message is waiting.
 */
public class MqttMessage {
    private static final byte[] EMPTY = new byte[0];

    private String topic;
    private byte[] payload;
    private final int qos;
    private final boolean retained;

    /**
     * Creates a message with a text payload.
     *
     * @param topic the topic to publish to
     * @param payload the payload; encoded as UTF-8 ({@code null} means empty)
     */
    public MqttMessage(String topic, String payload) {
        this(topic, utf8(payload), 0, false);
    }

    /**
     * Creates a message with a binary payload. The array is used as is, not
     * copied.
     *
     * @param topic the topic to publish to
     * @param payload the payload bytes ({@code null} means empty)
     */
    public MqttMessage(String topic, byte[] payload) {
        this(topic, payload, 0, false);
    }

    /** Used by the native library for received messages. */
    MqttMessage(String topic, byte[] payload, int qos, boolean retained) {
        this.topic = topic;
        this.payload = payload == null ? EMPTY : payload;
        this.qos = qos;
        this.retained = retained;
    }

    /**
     * Returns the topic.
     *
     * @return the topic, or {@code null} for the "no message waiting" value
     *         returned by {@link MqttClient#readMessage()}
     */
    public String getTopic() {
        return topic;
    }

    /**
     * Sets the topic.
     *
     * @param topic the new topic
     */
    public void setTopic(String topic) {
        this.topic = topic;
    }

    /**
     * Returns the payload bytes (not a copy).
     *
     * @return the payload, never {@code null}
     */
    public byte[] getPayload() {
        return payload;
    }

    /**
     * Sets a text payload, encoded as UTF-8.
     *
     * @param payload the new payload ({@code null} means empty)
     */
    public void setPayload(String payload) {
        this.payload = utf8(payload);
    }

    /**
     * Sets a binary payload. The array is used as is, not copied.
     *
     * @param payload the new payload ({@code null} means empty)
     */
    public void setPayload(byte[] payload) {
        this.payload = payload == null ? EMPTY : payload;
    }

    /**
     * Returns the QoS with which a received message was delivered.
     *
     * @return 0, 1 or 2 for a received message; 0 for a message you built
     */
    public int getQos() {
        return qos;
    }

    /**
     * Tells whether the broker delivered this message from its retained store
     * (as it does for a retained message when you subscribe).
     *
     * @return {@code true} for a retained message delivered on subscribe
     */
    public boolean isRetained() {
        return retained;
    }

    /**
     * Describes the message without its payload, which may be large or secret.
     *
     * @return topic, QoS, retain flag and payload length
     */
    public String toString() {
        return "MqttMessage[topic=" + topic + ", qos=" + qos + ", retained=" + retained
                + ", payload=" + payload.length + " bytes]";
    }

    private static byte[] utf8(String text) {
        if (text == null) {
            return EMPTY;
        }
        try {
            return text.getBytes("UTF-8");
        } catch (UnsupportedEncodingException e) {
            // Every Java platform must support UTF-8.
            throw new IllegalStateException("UTF-8 is not supported: " + e.getMessage());
        }
    }
}
