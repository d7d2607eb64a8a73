package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/**
 * What publish and subscribe refuse (before anything is sent) and what
 * happens to messages published while not connected.
 */
public class PublishRulesTest extends ClientTestSupport {
    private static final String TOO_LONG = repeat('a', 65536);

    private static String repeat(char c, int n) {
        char[] chars = new char[n];
        Arrays.fill(chars, c);
        return new String(chars);
    }

    @Test
    public void publish_to_an_invalid_topic_is_rejected() throws Exception {
        TestClient client = newClient("127.0.0.1");
        for (String topic : new String[] {"", "a/+/b", "+", "a/#", "#", TOO_LONG, "nul\u0000char"}) {
            EWException e = expectEW(() -> client.publish(new MqttMessage(topic, "x"), 0, false));
            assertContains("topic", e.getMessage());
        }
    }

    @Test
    public void topic_of_65535_bytes_is_accepted() throws Exception {
        TestClient client = newClient("127.0.0.1");
        client.publish(new MqttMessage(repeat('a', 65535), "x"), 0, false);
        // 65535 bytes of UTF-8 but fewer characters: the limit is in bytes.
        EWException e = expectEW(() -> client.publish(new MqttMessage(repeat('ä', 32768), "x"), 0, false));
        assertContains("topic", e.getMessage());
    }

    @Test
    public void publish_with_qos_outside_0_to_2_is_rejected() throws Exception {
        TestClient client = newClient("127.0.0.1");
        for (int qos : new int[] {-1, 3, 42}) {
            EWException e = expectEW(() -> client.publish(new MqttMessage("a/b", "x"), qos, false));
            assertContains("qos", e.getMessage());
        }
    }

    @Test
    public void publish_null_message_or_topic_is_rejected() throws Exception {
        TestClient client = newClient("127.0.0.1");
        expectEW(() -> client.publish(null, 0, false));
        expectEW(() -> client.publish(new MqttMessage(null, "x"), 0, false));
    }

    @Test
    public void subscribe_to_an_invalid_filter_or_qos_is_rejected() throws Exception {
        TestClient client = newClient("127.0.0.1");
        for (String filter : new String[] {"", "a/#/b", "a#", "a+/b", "a/+b", TOO_LONG}) {
            EWException e = expectEW(() -> client.subscribe(filter, 0));
            assertContains("filter", e.getMessage());
        }
        expectEW(() -> client.subscribe(null, 0));
        for (int qos : new int[] {-1, 3}) {
            EWException e = expectEW(() -> client.subscribe("a/b", qos));
            assertContains("qos", e.getMessage());
        }
        expectEW(() -> client.unsubscribe(""));
        expectEW(() -> client.unsubscribe(null));
    }

    @Test
    public void rejected_calls_send_nothing_and_keep_the_connection() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        String topic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            expectEW(() -> client.publish(new MqttMessage(topic + "/+", "bad"), 1, false));
            expectEW(() -> client.publish(new MqttMessage(topic, "bad qos"), 3, false));
            expectEW(() -> client.subscribe(topic + "/#/x", 1));
            client.publish(new MqttMessage(topic, "good"), 1, false);
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(Arrays.asList("good"), ClientLifecycleTest.textsOf(got));
        }
        assertEquals(MqttClient.STATUS_CONNECTED, client.getStatus());
        assertTrue("the broker saw exactly one PUBLISH from the client:\n" + broker.log(),
                broker.log().split("Received PUBLISH from " + client.clientId(), -1).length == 2);
    }

    @Test
    public void messages_published_before_connect_are_sent_on_connect_in_order() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        String base = topic();
        try (MosquittoSub sub = broker.mosquittoSub(base + "/#", 2)) {
            // One QoS for the order check: Mosquitto forwards a QoS 2 message only on PUBREL,
            // so messages of different QoS may legitimately overtake each other.
            for (int i = 0; i < 5; i++) {
                client.publish(new MqttMessage(base + "/ordered", "m" + i), 1, false);
            }
            client.publish(new MqttMessage(base + "/qos0", "zero"), 0, false);
            client.publish(new MqttMessage(base + "/qos2", "two"), 2, false);
            client.connect();
            List<MosquittoSub.Received> got = sub.awaitMessages(7, DELIVERY_MS);
            List<String> ordered = new java.util.ArrayList<>();
            for (MosquittoSub.Received r : got) {
                if (r.topic.equals(base + "/ordered")) {
                    ordered.add(r.text());
                    assertEquals(1, r.qos);
                } else if (r.topic.equals(base + "/qos0")) {
                    assertEquals("zero", r.text());
                    assertEquals(0, r.qos);
                } else {
                    assertEquals("two", r.text());
                    assertEquals("QoS kept while queued", 2, r.qos);
                }
            }
            assertEquals(sub.output(), 7, got.size());
            assertEquals(PublishSubscribeTest.expectedSequence(5), ordered);
        }
    }

    @Test
    public void messages_published_while_the_broker_is_away_are_sent_after_reconnect() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        broker.stop();
        assertTrue(client.describe(), client.awaitStatus(MqttClient.STATUS_CONNECTING, 10_000));
        String topic = topic();
        client.publish(new MqttMessage(topic, "while away"), 1, true);
        broker.restart();
        assertConnected(client);
        // Retained, so a subscriber that comes after the reconnect still sees it.
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output() + "\n" + client.describe(), Arrays.asList("while away"),
                    ClientLifecycleTest.textsOf(got));
        }
    }

    @Test
    public void offline_queue_holds_maxinflight_plus_1000_messages() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        int maxInflight = 5;
        client.setOption("MAXINFLIGHT", Integer.toString(maxInflight));
        String topic = topic();
        int capacity = maxInflight + 1000;
        for (int i = 0; i < capacity; i++) {
            client.publish(new MqttMessage(topic, "m" + i), 1, false);
        }
        EWException e = expectEW(() -> client.publish(new MqttMessage(topic, "one too many"), 1, false));
        assertContains("offline queue full", e.getMessage());
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            client.connect();
            sub.awaitMessages(capacity, 30_000);
            assertEquals("every queued message, in order, and not the refused one",
                    PublishSubscribeTest.expectedSequence(capacity), sub.texts());
        }
    }

    @Test
    public void offline_queue_full_also_applies_to_qos0() throws Exception {
        TestClient client = newClient("127.0.0.1");
        client.setOption("MAXINFLIGHT", "1");
        for (int i = 0; i < 1001; i++) {
            client.publish(new MqttMessage("a/b", "m" + i), 0, false);
        }
        EWException e = expectEW(() -> client.publish(new MqttMessage("a/b", "x"), 0, false));
        assertContains("offline queue full", e.getMessage());
    }
}
