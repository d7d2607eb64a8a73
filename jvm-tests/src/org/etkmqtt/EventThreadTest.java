package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.junit.Before;
import org.junit.Test;

/**
 * Events come on one library-owned thread per client, one at a time, and the
 * callback may call back into the client.
 */
public class EventThreadTest extends ClientTestSupport {
    private Mosquitto broker;

    @Before
    public void startBroker() {
        broker = plainBroker();
    }

    private TestClient subscribedClient(String topic) throws Exception {
        TestClient client = clientFor(broker);
        client.subscribe(topic, 1);
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), topic, 5_000));
        return client;
    }

    @Test
    public void callbacks_run_on_one_library_thread_and_never_overlap() throws Exception {
        String topic = topic();
        TestClient client = subscribedClient(topic).callbackDelay(1);
        List<String> texts = PublishSubscribeTest.expectedSequence(300);
        broker.mosquittoPubLines(topic, 1, texts.subList(0, 200));
        assertTrue(client.describe(), client.awaitMessages(200, 30_000));
        // Status events from a lost connection and a reconnect, then more messages.
        broker.restart();
        assertTrue(client.describe(), client.awaitStatusEvent(MqttClient.STATUS_CONNECTING, 10_000));
        assertTrue(client.describe(), client.awaitStatus(MqttClient.STATUS_CONNECTED, 40_000));
        assertTrue(broker.awaitSubscription(client.clientId(), topic, 10_000));
        broker.mosquittoPubLines(topic, 1, texts.subList(200, 300));
        assertTrue(client.describe(), client.awaitMessages(300, 30_000));
        int count = 300;
        assertEquals("callback threads: " + client.callbackThreads(), 1, client.callbackThreads().size());
        String thread = client.callbackThreads().iterator().next();
        assertNotEquals("not the test thread", Thread.currentThread().getName(), thread);
        assertFalse("two callbacks ran at once", client.sawConcurrentCallbacks());
        assertEquals(count, client.messageEvents());
        assertTrue(client.statusEvents() >= 3);
        assertTrue(client.callbackErrors().toString(), client.callbackErrors().isEmpty());
    }

    @Test
    public void each_client_has_its_own_event_thread() throws Exception {
        String topic = topic();
        TestClient first = subscribedClient(topic);
        TestClient second = subscribedClient(topic);
        broker.mosquittoPub(topic, "to both", 1, false);
        assertTrue(first.awaitMessages(1, DELIVERY_MS));
        assertTrue(second.awaitMessages(1, DELIVERY_MS));
        assertEquals(1, first.callbackThreads().size());
        assertEquals(1, second.callbackThreads().size());
        assertNotEquals(first.callbackThreads(), second.callbackThreads());
    }

    @Test
    public void status_inside_the_status_callback_is_connected_after_connecting() throws Exception {
        TestClient client = clientFor(broker);
        connectAndWait(client);
        assertTrue(client.awaitStatusEvent(MqttClient.STATUS_CONNECTED, CONNECT_MS));
        List<Integer> seen = client.statusesSeen();
        assertEquals("the last status event read CONNECTED: " + seen, MqttClient.STATUS_CONNECTED,
                (int) seen.get(seen.size() - 1));
    }

    @Test
    public void publish_from_inside_the_callback_works() throws Exception {
        String requests = topic();
        String replies = topic();
        TestClient echo = subscribedClient(requests);
        echo.hook((c, event) -> {
            if (event == MqttClient.MQTT_MESSAGE_EVENT) {
                List<MqttMessage> read = c.messages();
                MqttMessage last = read.get(read.size() - 1);
                c.publish(new MqttMessage(replies, "echo " + new String(last.getPayload(), StandardCharsets.UTF_8)),
                        1, false);
            }
        });
        try (MosquittoSub sub = broker.mosquittoSub(replies, 1)) {
            broker.mosquittoPub(requests, "ping", 1, false);
            sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(Collections.singletonList("echo ping"), sub.texts());
        }
        assertTrue(echo.callbackErrors().toString(), echo.callbackErrors().isEmpty());
    }

    @Test
    public void subscribe_from_inside_the_status_callback_works() throws Exception {
        String topic = topic();
        TestClient client = clientFor(broker);
        AtomicInteger subscribes = new AtomicInteger();
        client.hook((c, event) -> {
            if (event == MqttClient.MQTT_STATUS_EVENT && c.getStatus() == MqttClient.STATUS_CONNECTED
                    && subscribes.getAndIncrement() == 0) {
                c.subscribe(topic, 1);
            }
        });
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), topic, 5_000));
        broker.mosquittoPub(topic, "hello", 1, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        assertTrue(client.callbackErrors().toString(), client.callbackErrors().isEmpty());
    }

    @Test
    public void close_from_inside_the_callback_works() throws Exception {
        String topic = topic();
        TestClient client = subscribedClient(topic);
        CountDownLatch closed = new CountDownLatch(1);
        AtomicReference<String> afterClose = new AtomicReference<>();
        client.hook((c, event) -> {
            if (event == MqttClient.MQTT_MESSAGE_EVENT && closed.getCount() > 0) {
                c.close();
                try {
                    c.publish(new MqttMessage(topic, "after close"), 0, false);
                    afterClose.set("publish after close did not throw");
                } catch (EWException e) {
                    afterClose.set(e.getMessage());
                }
                closed.countDown();
            }
        });
        broker.mosquittoPub(topic, "close now", 1, false);
        assertTrue("close() inside the callback returned: " + client.describe(), closed.await(15, TimeUnit.SECONDS));
        assertContains("closed", afterClose.get());
        assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
        assertTrue("broker saw a clean disconnect:\n" + broker.log(),
                broker.awaitLog("Client " + client.clientId() + " disconnected.", 5_000));
        int events = client.messageEvents() + client.statusEvents();
        broker.mosquittoPub(topic, "nobody listens", 1, false);
        Thread.sleep(300);
        assertEquals("no events after close", events, client.messageEvents() + client.statusEvents());
    }

    @Test
    public void exception_in_the_callback_does_not_stop_the_client() throws Exception {
        String topic = topic();
        TestClient client = subscribedClient(topic);
        AtomicInteger calls = new AtomicInteger();
        client.hook((c, event) -> {
            if (event == MqttClient.MQTT_MESSAGE_EVENT && calls.getAndIncrement() == 0) {
                throw new IllegalStateException("thrown by the test's callback on purpose");
            }
        });
        broker.mosquittoPub(topic, "first", 1, false);
        broker.mosquittoPub(topic, "second", 1, false);
        assertTrue(client.describe(), client.awaitMessages(2, DELIVERY_MS));
        assertEquals(2, client.messageEvents());
        assertEquals(MqttClient.STATUS_CONNECTED, client.getStatus());
    }

    @Test
    public void callback_throwing_a_runtime_exception_from_java_is_survived() throws Exception {
        // Same as above but the exception escapes callMqttEvent itself, not the hook wrapper.
        String topic = topic();
        String id = clientId();
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        MqttClient client = new MqttClient(id, broker.host()) {
            public void callMqttEvent(int event) {
                if (event == MQTT_MESSAGE_EVENT) {
                    try {
                        got.add(new String(readMessage().getPayload(), StandardCharsets.UTF_8));
                    } catch (EWException e) {
                        got.add("readMessage failed: " + e.getMessage());
                    }
                    throw new RuntimeException("thrown out of callMqttEvent on purpose");
                }
            }
        };
        closeLater(client::close);
        client.setOption("PORT", Integer.toString(broker.port()));
        client.subscribe(topic, 1);
        client.connect();
        assertTrue(org.etkmqtt.harness.Waits.until(CONNECT_MS, () -> {
            try {
                return client.getStatus() == MqttClient.STATUS_CONNECTED;
            } catch (EWException e) {
                return false;
            }
        }));
        assertTrue(broker.awaitSubscription(id, topic, 5_000));
        broker.mosquittoPub(topic, "one", 1, false);
        broker.mosquittoPub(topic, "two", 1, false);
        assertTrue("both delivered: " + got, org.etkmqtt.harness.Waits.until(DELIVERY_MS, () -> got.size() >= 2));
        assertEquals(java.util.Arrays.asList("one", "two"), got);
    }

    @Test
    public void one_message_event_per_message_even_when_not_read() throws Exception {
        String topic = topic();
        TestClient client = subscribedClient(topic).readInCallback(false);
        broker.mosquittoPubLines(topic, 1, PublishSubscribeTest.expectedSequence(10));
        assertTrue(client.describe(), client.awaitMessageEvents(10, DELIVERY_MS));
        Thread.sleep(200);
        assertEquals(10, client.messageEvents());
        assertEquals(10, client.readMessages(10, DELIVERY_MS).size());
    }
}
