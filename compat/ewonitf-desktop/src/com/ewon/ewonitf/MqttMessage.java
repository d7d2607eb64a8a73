package com.ewon.ewonitf;

import java.io.UnsupportedEncodingException;

/**
 * Desktop stand-in for the Flexy's {@code com.ewon.ewonitf.MqttMessage}: a
 * topic and a payload. {@link MqttClient#readMessage()} returns one whose
 * topic is {@code null} when no message is waiting.
 */
public class MqttMessage {
    private final String topic;
    private final byte[] payload;

    /**
     * @param topic the topic to publish to
     * @param payload the payload, encoded as UTF-8 ({@code null} means empty)
     */
    public MqttMessage(String topic, String payload) {
        this(topic, utf8(payload));
    }

    /**
     * @param topic the topic to publish to
     * @param payload the payload bytes, used as is ({@code null} means empty)
     */
    public MqttMessage(String topic, byte[] payload) {
        this.topic = topic;
        this.payload = payload == null ? new byte[0] : payload;
    }

    /** @return the topic; {@code null} for "no message waiting" */
    public String getTopic() {
        return topic;
    }

    /** @return the payload bytes (not a copy), never {@code null} */
    public byte[] getPayload() {
        return payload;
    }

    /** @return topic and payload length; the payload itself may be large or secret */
    public String toString() {
        return "MqttMessage[topic=" + topic + ", payload=" + payload.length + " bytes]";
    }

    private static byte[] utf8(String text) {
        if (text == null) {
            return new byte[0];
        }
        try {
            return text.getBytes("UTF-8");
        } catch (UnsupportedEncodingException e) {
            throw new IllegalStateException("UTF-8 is not supported: " + e.getMessage());
        }
    }
}
