package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.Test;

import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.FaultProxy;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.Waits;
import org.etkmqtt.reliability.BrokerProcess;
import org.etkmqtt.reliability.Sequences;
import org.etkmqtt.reliability.StoreChildMain;

/**
 * The session against what a bad day brings, with a real Mosquitto: a proxy
 * that delays and cuts the link in front of it, a publisher killed -9, a
 * message the broker refuses, a broker that answers QoS 2 wrongly, an
 * application that stops reading, and close() with messages in flight.
 */
public class SessionFaultTest extends ClientTestSupport {
    private static final int MQTT_PUBREC = 5;
    private static final int MQTT_PUBACK = 4;

    /**
     * The loss found with a fault-injecting proxy: with acknowledgements held
     * back, two cuts of the link and the publishing JVM killed -9, a new JVM
     * on the same STOREDIR must still deliver every message.
     */
    @Test
    public void stored_qos1_survive_delayed_acks_two_cuts_and_kill_9_of_the_publisher() throws Exception {
        Mosquitto broker = plainBroker();
        String topic = topic();
        String id = clientId();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));
        FaultProxy proxy = closeLater(FaultProxy.start(broker.host(), broker.port()));
        proxy.delayToClient(150);
        File store = storeDir().toFile();
        ChildJvm publisher = closeLater(StoreChildMain.start(proxy.host(), proxy.port(), id, "publish", 100,
                topic, "STOREDIR=" + store, "STORESYNC=always", "MAXINFLIGHT=5", "RECONNECTMIN=1",
                "RECONNECTMAX=1"));
        assertNotNull(publisher.describe(), publisher.awaitLineStartingWith("PUBLISHED", 60_000));
        awaitDistinct(sub, 10);
        proxy.cutAll();
        assertTrue("reconnected after the first cut", Waits.until(10_000, () -> proxy.connections() >= 2));
        awaitDistinct(sub, 25);
        proxy.cutAll();
        assertTrue("reconnected after the second cut", Waits.until(10_000, () -> proxy.connections() >= 3));
        awaitDistinct(sub, 40);
        publisher.kill();
        proxy.delayToClient(0);

        ChildJvm drainer = closeLater(StoreChildMain.start(proxy.host(), proxy.port(), id, "drain", 0, topic,
                "STOREDIR=" + store));
        assertNotNull(drainer.describe(), drainer.awaitLineStartingWith("DRAINED queued=0", 60_000));
        assertEquals(drainer.describe(), 0, drainer.waitFor(30_000));
        assertTrue(sub.output(), Waits.until(DELIVERY_MS, () -> Sequences.of(sub.texts(), 100).missing.isEmpty()));
        Sequences result = Sequences.of(sub.texts(), 100);
        System.out.println("FAULT-PROXY-KILL9 " + result);
        assertEquals("every message arrived: " + result, Collections.emptyList(), result.missing);
        assertEquals(0, result.foreign.size());
    }

    @Test
    public void unread_qos1_messages_are_redelivered_to_the_next_client_with_cleansession_0() throws Exception {
        Mosquitto broker = broker(Mosquitto.config().line("max_inflight_messages 0").line("max_queued_messages 0"));
        String topic = topic();
        String id = clientId();
        TestClient first = clientFor(broker, id).readInCallback(false);
        first.options("CLEANSESSION", "0");
        first.subscribe(topic, 1);
        connectAndWait(first);
        assertTrue(broker.awaitSubscription(id, topic, CONNECT_MS));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            lines.add(Sequences.payload(i));
        }
        broker.mosquittoPubLines(topic, 1, lines);
        assertTrue(first.describe(), first.awaitMessageEvents(100, DELIVERY_MS));
        for (int i = 0; i < 10; i++) {
            assertEquals(Sequences.payload(i), new String(first.readMessage().getPayload(), "UTF-8"));
        }
        first.close();

        TestClient second = clientFor(broker, id);
        second.options("CLEANSESSION", "0");
        second.subscribe(topic, 1);
        connectAndWait(second);
        assertTrue(second.describe(), second.awaitMessages(90, DELIVERY_MS));
        Waits.until(300, () -> second.messages().size() > 90);
        assertEquals("the 90 never read, in order, and none of the 10 read", lines.subList(10, 100),
                second.messageTexts());
    }

    @Test
    public void close_right_after_100_qos1_publishes_returns_in_well_under_a_second() throws Exception {
        Mosquitto broker = plainBroker();
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));
        TestClient client = clientFor(broker);
        connectAndWait(client);
        for (int i = 0; i < 100; i++) {
            client.publish(new MqttMessage(topic, Sequences.payload(i)), 1, false);
        }
        long started = System.nanoTime();
        client.close();
        long tookMs = (System.nanoTime() - started) / 1_000_000;
        System.out.println("CLOSE-AFTER-100 took_ms=" + tookMs);
        assertTrue("close took " + tookMs + " ms", tookMs < 1000);
        sub.awaitMessages(100, DELIVERY_MS);
        assertEquals("delivered before close returned", Collections.emptyList(),
                Sequences.of(sub.texts(), 100).missing);
    }

    /**
     * Mosquitto disconnects a client that sends a packet over its
     * max_packet_size: that message is set aside after three refusals and
     * the ones behind it go on.
     */
    @Test
    public void a_message_the_broker_refuses_three_times_is_set_aside_and_the_queue_moves_on() throws Exception {
        Mosquitto broker = broker(Mosquitto.config().line("max_packet_size 1000"));
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));
        TestClient client = clientFor(broker);
        client.options("RECONNECTMIN", "0", "RECONNECTMAX", "1");
        connectAndWait(client);
        client.publish(new MqttMessage(topic, "before"), 1, false);
        char[] big = new char[2000];
        java.util.Arrays.fill(big, 'x');
        client.publish(new MqttMessage(topic + "/big", new String(big)), 1, false);
        client.publish(new MqttMessage(topic, "after"), 1, false);
        assertTrue(client.describe(), Waits.until(30_000, () -> dropped(client) == 1 && queued(client) == 0));
        sub.awaitMessages(2, DELIVERY_MS);
        assertEquals(java.util.Arrays.asList("before", "after"), sub.texts());
        String error = client.getLastError();
        System.out.println("SET-ASIDE lastError=" + error);
        assertContains("set aside", error);
        assertContains(topic + "/big", error);
        assertContains("refused it 3 times in a row", error);
    }

    /**
     * A broker that answers a QoS 2 PUBLISH with PUBACK (RabbitMQ 3.10 does)
     * breaks the protocol: the message is not counted as delivered, and
     * getLastError() names the violation.
     */
    @Test
    public void puback_for_a_qos2_publish_is_a_protocol_violation_not_a_delivery() throws Exception {
        Mosquitto broker = plainBroker();
        FaultProxy proxy = closeLater(FaultProxy.start(broker.host(), broker.port()));
        proxy.rewriteToClient(MQTT_PUBREC, MQTT_PUBACK);
        String topic = topic();
        TestClient client = newClient(proxy.host());
        client.options("PORT", Integer.toString(proxy.port()), "RECONNECTMIN", "0", "RECONNECTMAX", "1");
        connectAndWait(client);
        client.publish(new MqttMessage(topic, "exactly once"), 2, false);
        String error = client.awaitLastError(CONNECT_MS);
        assertNotNull(client.describe(), error);
        assertContains("answered a QoS 2 PUBLISH with PUBACK", error);
        assertTrue("not counted as delivered", queued(client) == 1 || dropped(client) == 1);
        // Refused three times in a row: set aside, counted as dropped.
        assertTrue(client.describe(), Waits.until(30_000, () -> dropped(client) == 1));
        assertEquals(0, queued(client));
        assertTrue(proxy.rewritten() >= 3);
    }

    /** Every failure raises a status event after getLastError() has its text, the first one too. */
    @Test
    public void the_first_tls_failure_is_readable_inside_the_first_status_event_after_it() throws Exception {
        Mosquitto broker = broker(Mosquitto.config().tls(org.etkmqtt.harness.TestPki.get()));
        TestClient client = newClient("127.0.0.1");
        client.options("PORT", Integer.toString(broker.port()), "CAFILE",
                org.etkmqtt.harness.TestPki.get().caCert.getPath());
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        client.hook((c, event) -> {
            if (event == MqttClient.MQTT_STATUS_EVENT) {
                seen.add(String.valueOf(c.getLastError()));
            }
        });
        client.connect();
        assertTrue("a status event saw an error: " + seen, Waits.until(CONNECT_MS, () -> {
            synchronized (seen) {
                for (String text : seen) {
                    if (!text.equals("null")) {
                        return true;
                    }
                }
                return false;
            }
        }));
        String firstError = null;
        synchronized (seen) {
            for (String text : seen) {
                if (!text.equals("null")) {
                    firstError = text;
                    break;
                }
            }
        }
        System.out.println("FIRST-STATUS-EVENT-ERROR " + firstError);
        assertContains("TLS: certificate is valid for", firstError);
        assertContains("not 127.0.0.1", firstError);
    }

    @Test
    public void queued_plus_dropped_accounts_for_every_accepted_message_right_after_publish() throws Exception {
        File store = storeDir().toFile();
        TestClient client = newClient("127.0.0.1");
        client.options("PORT", Integer.toString(org.etkmqtt.harness.Ports.freePort("127.0.0.1")), "STOREDIR",
                store.getPath(), "STOREMAXBYTES", "4096", "STOREFULL", "dropoldest");
        client.connect();
        String topic = topic();
        for (int i = 0; i < 300; i++) {
            client.publish(new MqttMessage(topic, Sequences.payload(i) + "-0123456789012345678901234567890"), 1,
                    false);
            long accounted = client.getQueuedCount() + client.getDroppedCount();
            assertEquals("after publish " + (i + 1), i + 1, accounted);
        }
        assertTrue("some were dropped", client.getDroppedCount() > 0);
    }

    private static void awaitDistinct(MosquittoSub sub, int count) {
        assertTrue("at least " + count + " distinct messages: " + sub.output(),
                Waits.until(30_000, () -> Sequences.of(sub.texts(), 100).distinct >= count));
    }

    private Path storeDir() throws Exception {
        Path dir = BrokerProcess.tempDir("etkmqtt-store-");
        closeLater(BrokerProcess.deleting(dir));
        return dir;
    }

    private static int queued(MqttClient client) {
        try {
            return client.getQueuedCount();
        } catch (EWException e) {
            return -1;
        }
    }

    private static long dropped(MqttClient client) {
        try {
            return client.getDroppedCount();
        } catch (EWException e) {
            return -1;
        }
    }
}
