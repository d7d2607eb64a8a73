package org.etkmqtt;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/**
 * What the broker would close the connection on is refused where the
 * application passes it, with an EWException that says what and why:
 * control characters and Unicode non-characters in topics, filters, the will
 * topic and the PSK identity (MQTT 3.1.1 section 1.5.3, and what Mosquitto
 * closes the connection on), and payloads over MAXPAYLOAD. Before this, such
 * a message was accepted and then blocked the queue, reconnecting forever.
 */
public class InputRulesTest extends ClientTestSupport {
    private static final String[] FORBIDDEN = {"\u0001", "\u007F", "\u0085", "\uFFFF", "\uFDD0", "\u0000"};

    @Test
    public void topics_with_control_or_non_characters_are_refused_at_publish() throws Exception {
        TestClient client = newClient("127.0.0.1");
        for (String bad : FORBIDDEN) {
            String topic = "plant/" + bad + "/t";
            EWException e = expectEW(() -> client.publish(new MqttMessage(topic, "x"), 1, false));
            assertContains("topic", e.getMessage());
            assertContains(String.format("U+%04X", (int) bad.charAt(0)), e.getMessage());
        }
        assertEquals("nothing was queued", 0, client.getQueuedCount());
    }

    @Test
    public void filters_will_topic_and_psk_identity_follow_the_same_rules() throws Exception {
        TestClient client = newClient("127.0.0.1");
        assertContains("U+0085", expectEW(() -> client.subscribe("a/\u0085/#", 1)).getMessage());
        assertContains("WILLTOPIC", expectEW(() -> client.setOption("WILLTOPIC", "will/\u0001")).getMessage());
        assertContains("U+0001", expectEW(() -> client.setOption("WILLTOPIC", "will/\u0001")).getMessage());
        EWException identity = expectEW(() -> client.setOption("PSK-IDENTITY", "gw\u00001"));
        assertContains("PSK-IDENTITY", identity.getMessage());
        assertContains("U+0000", identity.getMessage());
    }

    @Test
    public void maxpayload_refuses_a_larger_payload_and_the_queue_goes_on() throws Exception {
        Mosquitto broker = plainBroker();
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));
        TestClient client = clientFor(broker);
        client.setOption("MAXPAYLOAD", "1000");
        connectAndWait(client);
        EWException tooLarge = expectEW(() -> client.publish(new MqttMessage(topic, new byte[1001]), 1, false));
        assertContains("1001", tooLarge.getMessage());
        assertContains("MAXPAYLOAD", tooLarge.getMessage());
        client.publish(new MqttMessage(topic, "fits"), 1, false);
        sub.awaitMessages(1, DELIVERY_MS);
        assertEquals(Arrays.asList("fits"), sub.texts());
        assertEquals(0, client.getDroppedCount());
    }
}
