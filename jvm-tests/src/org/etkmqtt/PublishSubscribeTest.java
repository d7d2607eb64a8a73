package org.etkmqtt;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.junit.Before;
import org.junit.Test;

/** Messages both ways through a real Mosquitto, checked with mosquitto_sub and mosquitto_pub. */
public class PublishSubscribeTest extends ClientTestSupport {
    private Mosquitto broker;

    @Before
    public void startBroker() {
        broker = plainBroker();
    }

    private TestClient connected() throws Exception {
        TestClient client = clientFor(broker);
        connectAndWait(client);
        return client;
    }

    private void assertPublishedWithQos(int qos) throws Exception {
        TestClient client = connected();
        String topic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(topic, 2)) {
            client.publish(new MqttMessage(topic, "qos" + qos), qos, false);
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output(), 1, got.size());
            assertEquals("qos" + qos, got.get(0).text());
            assertEquals("delivered with the QoS it was published with", qos, got.get(0).qos);
            assertFalse(got.get(0).retained);
        }
    }

    @Test
    public void publish_qos0_reaches_mosquitto_sub() throws Exception {
        assertPublishedWithQos(0);
    }

    @Test
    public void publish_qos1_reaches_mosquitto_sub() throws Exception {
        assertPublishedWithQos(1);
    }

    @Test
    public void publish_qos2_reaches_mosquitto_sub() throws Exception {
        assertPublishedWithQos(2);
    }

    private void assertReceivedWithQos(int publishQos, int subscribeQos) throws Exception {
        TestClient client = clientFor(broker).readInCallback(false);
        String topic = topic();
        client.subscribe(topic, subscribeQos);
        connectAndWait(client);
        awaitSubscribed(client, topic);
        broker.mosquittoPub(topic, "from mosquitto_pub", publishQos, false);
        List<MqttMessage> got = client.readMessages(1, DELIVERY_MS);
        assertEquals(client.describe(), 1, got.size());
        assertEquals(topic, got.get(0).getTopic());
        assertEquals("from mosquitto_pub", new String(got.get(0).getPayload(), StandardCharsets.UTF_8));
        assertEquals(Math.min(publishQos, subscribeQos), got.get(0).getQos());
        assertFalse(got.get(0).isRetained());
    }

    /** Waits until the broker has added the client's subscription to {@code filter}. */
    private void awaitSubscribed(TestClient client, String filter) {
        assertTrue("broker logged the subscription of " + client.clientId() + " to " + filter + ":\n"
                + broker.log(), broker.awaitSubscription(client.clientId(), filter, 5_000));
    }

    @Test
    public void receive_qos0() throws Exception {
        assertReceivedWithQos(0, 2);
    }

    @Test
    public void receive_qos1() throws Exception {
        assertReceivedWithQos(1, 2);
    }

    @Test
    public void receive_qos2() throws Exception {
        assertReceivedWithQos(2, 2);
    }

    @Test
    public void received_qos_is_capped_by_the_subscription() throws Exception {
        assertReceivedWithQos(2, 1);
    }

    @Test
    public void binary_payload_round_trips_unchanged() throws Exception {
        TestClient receiver = clientFor(broker);
        String topic = topic();
        receiver.subscribe(topic, 1);
        connectAndWait(receiver);
        awaitSubscribed(receiver, topic);
        TestClient sender = connected();
        byte[] payload = new byte[256];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) i;
        }
        sender.publish(new MqttMessage(topic, payload), 1, false);
        assertTrue(receiver.describe(), receiver.awaitMessages(1, DELIVERY_MS));
        assertArrayEquals(payload, receiver.messages().get(0).getPayload());
    }

    @Test
    public void large_payload_round_trips_unchanged() throws Exception {
        TestClient receiver = clientFor(broker);
        String topic = topic();
        receiver.subscribe(topic, 2);
        connectAndWait(receiver);
        awaitSubscribed(receiver, topic);
        TestClient sender = connected();
        byte[] payload = new byte[512 * 1024];
        new java.util.Random(42).nextBytes(payload);
        sender.publish(new MqttMessage(topic, payload), 2, false);
        assertTrue(receiver.describe(), receiver.awaitMessages(1, DELIVERY_MS));
        assertArrayEquals(payload, receiver.messages().get(0).getPayload());
    }

    @Test
    public void empty_payload_is_delivered() throws Exception {
        TestClient client = connected();
        String topic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            client.publish(new MqttMessage(topic, new byte[0]), 1, false);
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output(), 1, got.size());
            assertEquals(0, got.get(0).payload.length);
        }
        TestClient receiver = clientFor(broker);
        receiver.subscribe(topic, 1);
        connectAndWait(receiver);
        awaitSubscribed(receiver, topic);
        broker.mosquittoPub(topic, new byte[0], 1, false);
        assertTrue(receiver.describe(), receiver.awaitMessages(1, DELIVERY_MS));
        assertEquals(0, receiver.messages().get(0).getPayload().length);
    }

    @Test
    public void utf8_topic_and_payload_round_trip() throws Exception {
        TestClient client = connected();
        String topic = topic() + "/größe/温度";
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            client.publish(new MqttMessage(topic, "21,5 °C"), 1, false);
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output(), 1, got.size());
            assertEquals(topic, got.get(0).topic);
            assertEquals("21,5 °C", got.get(0).text());
        }
    }

    @Test
    public void retained_message_is_flagged_when_delivered_on_subscribe() throws Exception {
        String topic = topic();
        broker.mosquittoPub(topic, "kept", 1, true);
        TestClient client = clientFor(broker);
        client.subscribe(topic, 1);
        connectAndWait(client);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        MqttMessage retained = client.messages().get(0);
        assertEquals("kept", new String(retained.getPayload(), StandardCharsets.UTF_8));
        assertTrue("delivered from the retained store", retained.isRetained());
        broker.mosquittoPub(topic, "live", 1, true);
        assertTrue(client.describe(), client.awaitMessages(2, DELIVERY_MS));
        assertFalse("a live message is not flagged retained", client.messages().get(1).isRetained());
    }

    @Test
    public void publish_with_retain_is_kept_by_the_broker() throws Exception {
        TestClient client = connected();
        String topic = topic();
        client.publish(new MqttMessage(topic, "last value"), 1, true);
        assertTrue("the PUBLISH carried the retain flag:\n" + broker.log(),
                broker.awaitLog("Received PUBLISH from " + client.clientId() + " (d0, q1, r1", DELIVERY_MS));
        // A subscriber that arrives later still gets it, flagged retained.
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output(), 1, got.size());
            assertEquals("last value", got.get(0).text());
            assertTrue(got.get(0).retained);
        }
    }

    @Test
    public void wildcard_subscriptions_receive_matching_topics() throws Exception {
        TestClient client = clientFor(broker);
        String base = topic();
        client.subscribe(base + "/+/temperature", 1);
        client.subscribe(base + "/alarms/#", 1);
        connectAndWait(client);
        awaitSubscribed(client, base + "/+/temperature");
        awaitSubscribed(client, base + "/alarms/#");
        broker.mosquittoPub(base + "/room1/temperature", "a", 1, false);
        broker.mosquittoPub(base + "/room1/humidity", "not matching", 1, false);
        broker.mosquittoPub(base + "/alarms/fire/kitchen", "b", 1, false);
        broker.mosquittoPub(base + "/alarms", "c", 1, false);
        assertTrue(client.describe(), client.awaitMessages(3, DELIVERY_MS));
        assertEquals(Arrays.asList("a", "b", "c"), client.messageTexts());
    }

    @Test
    public void unsubscribe_stops_delivery() throws Exception {
        TestClient client = clientFor(broker);
        String topic = topic();
        String marker = topic() + "/marker";
        client.subscribe(topic, 1);
        client.subscribe(marker, 1);
        connectAndWait(client);
        awaitSubscribed(client, topic);
        awaitSubscribed(client, marker);
        broker.mosquittoPub(topic, "before", 1, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        client.unsubscribe(topic);
        assertTrue("broker processed UNSUBSCRIBE:\n" + broker.log(),
                broker.awaitLog("Received UNSUBSCRIBE from " + client.clientId(), 5_000));
        broker.mosquittoPub(topic, "after", 1, false);
        broker.mosquittoPub(marker, "marker", 1, false);
        assertTrue(client.describe(), client.awaitMessages(2, DELIVERY_MS));
        assertEquals(Arrays.asList("before", "marker"), client.messageTexts());
    }

    @Test
    public void subscriptions_made_before_connect_are_sent_on_connect() throws Exception {
        TestClient client = clientFor(broker);
        String topic = topic();
        client.subscribe(topic, 2);
        connectAndWait(client);
        awaitSubscribed(client, topic);
        broker.mosquittoPub(topic, "hello", 2, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        assertEquals(2, client.messages().get(0).getQos());
    }

    @Test
    public void many_qos1_messages_arrive_in_order() throws Exception {
        TestClient client = clientFor(broker);
        client.setOption("MAXINFLIGHT", "5");
        connectAndWait(client);
        String topic = topic();
        int count = 500;
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            for (int i = 0; i < count; i++) {
                client.publish(new MqttMessage(topic, "m" + i), 1, false);
            }
            sub.awaitMessages(count, 30_000);
            assertEquals(expectedSequence(count), sub.texts());
        }
    }

    @Test
    public void qos2_messages_arrive_exactly_once() throws Exception {
        TestClient client = connected();
        String topic = topic();
        int count = 200;
        try (MosquittoSub sub = broker.mosquittoSub(topic, 2)) {
            for (int i = 0; i < count; i++) {
                client.publish(new MqttMessage(topic, "m" + i), 2, false);
            }
            sub.awaitMessages(count, 30_000);
            // Wait a little for any duplicate that might follow.
            sub.awaitMessages(count + 1, 500);
            assertEquals(expectedSequence(count), sub.texts());
        }
    }

    @Test
    public void many_received_messages_arrive_in_order() throws Exception {
        TestClient client = clientFor(broker);
        String topic = topic();
        client.subscribe(topic, 1);
        connectAndWait(client);
        awaitSubscribed(client, topic);
        int count = 300;
        broker.mosquittoPubLines(topic, 1, expectedSequence(count));
        assertTrue(client.describe(), client.awaitMessages(count, 30_000));
        assertEquals(expectedSequence(count), client.messageTexts());
        assertEquals("one message event per message", count, client.messageEvents());
        assertNull(client.readMessage().getTopic());
    }

    @Test
    public void read_message_outside_the_callback_returns_messages_in_order() throws Exception {
        TestClient client = clientFor(broker).readInCallback(false);
        String topic = topic();
        client.subscribe(topic, 1);
        connectAndWait(client);
        awaitSubscribed(client, topic);
        broker.mosquittoPubLines(topic, 1, expectedSequence(20));
        assertTrue(client.describe(), client.awaitMessageEvents(20, DELIVERY_MS));
        List<String> texts = new ArrayList<>();
        for (MqttMessage m : client.readMessages(20, DELIVERY_MS)) {
            texts.add(new String(m.getPayload(), StandardCharsets.UTF_8));
        }
        assertEquals(expectedSequence(20), texts);
        assertNull("no 21st message", client.readMessage().getTopic());
        assertEquals(20, client.messageEvents());
    }

    static List<String> expectedSequence(int count) {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            texts.add("m" + i);
        }
        return texts;
    }

    /**
     * A QoS 0 stream faster than the socket drains must keep flowing. It
     * once stalled until the next keep-alive (60 s): the I/O thread stopped
     * at its 64 KiB high-water mark after the socket had taken everything,
     * and an edge-triggered poll then never woke it.
     */
    @Test
    public void qos0_burst_faster_than_the_socket_drains_does_not_wait_for_keepalive() throws Exception {
        Mosquitto[] brokers = {broker(Mosquitto.config()), broker(Mosquitto.config().tls(TestPki.get()))};
        for (Mosquitto broker : brokers) {
            TestClient client = clientFor(broker);
            // A stall makes publish wait for queue space and then throw.
            client.setOption("CONNECTTIMEOUT", "5");
            connectAndWait(client);
            MqttMessage message = new MqttMessage("burst/qos0", new byte[1024]);
            for (int i = 0; i < 20_000; i++) {
                client.publish(message, 0, false);
            }
            long deadline = System.currentTimeMillis() + 10_000;
            while (client.getQueuedCount() > 0 && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
            assertEquals("QoS 0 messages still queued 10 s after the burst (KEEPALIVE is 60 s) over "
                    + (broker.isTls() ? "TLS" : "TCP"), 0, client.getQueuedCount());
            client.close();
        }
    }
}
