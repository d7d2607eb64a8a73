package org.etkmqtt;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;

import org.junit.Test;

/** MqttMessage is plain Java: these tests need neither the library nor a broker. */
public class MqttMessageTest {
    @Test
    public void text_payload_is_encoded_as_utf8() {
        MqttMessage message = new MqttMessage("t", "Grüße €");
        assertArrayEquals("Grüße €".getBytes(StandardCharsets.UTF_8), message.getPayload());
        assertEquals(11, message.getPayload().length);
    }

    @Test
    public void null_text_payload_is_empty() {
        MqttMessage message = new MqttMessage("t", (String) null);
        assertNotNull(message.getPayload());
        assertEquals(0, message.getPayload().length);
    }

    @Test
    public void null_binary_payload_is_empty() {
        MqttMessage message = new MqttMessage("t", (byte[]) null);
        assertNotNull(message.getPayload());
        assertEquals(0, message.getPayload().length);
    }

    @Test
    public void binary_payload_is_used_as_is() {
        byte[] payload = {0, (byte) 0xFF, 0x7F, (byte) 0x80};
        MqttMessage message = new MqttMessage("t", payload);
        assertSame(payload, message.getPayload());
    }

    @Test
    public void built_message_has_qos_0_and_is_not_retained() {
        MqttMessage message = new MqttMessage("t", "x");
        assertEquals(0, message.getQos());
        assertFalse(message.isRetained());
    }

    @Test
    public void received_message_keeps_qos_and_retained_flag() {
        MqttMessage message = new MqttMessage("t", new byte[] {1}, 2, true);
        assertEquals(2, message.getQos());
        assertTrue(message.isRetained());
    }

    @Test
    public void setters_replace_topic_and_payload() {
        MqttMessage message = new MqttMessage("a", "1");
        message.setTopic("b/c");
        message.setPayload("ä");
        assertEquals("b/c", message.getTopic());
        assertArrayEquals(new byte[] {(byte) 0xC3, (byte) 0xA4}, message.getPayload());
        byte[] bytes = {9};
        message.setPayload(bytes);
        assertSame(bytes, message.getPayload());
        message.setPayload((byte[]) null);
        assertEquals(0, message.getPayload().length);
        message.setPayload((String) null);
        assertEquals(0, message.getPayload().length);
    }

    @Test
    public void null_topic_is_the_no_message_value() {
        MqttMessage message = new MqttMessage(null, (byte[]) null);
        assertNull(message.getTopic());
    }

    @Test
    public void to_string_shows_topic_and_length_but_not_the_payload() {
        String text = new MqttMessage("sensors/1", "secret-reading-42").toString();
        assertTrue(text, text.contains("sensors/1"));
        assertTrue(text, text.contains("17 bytes"));
        assertFalse(text, text.contains("secret-reading-42"));
    }
}
