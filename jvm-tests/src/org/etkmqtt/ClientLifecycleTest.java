package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/**
 * Construction, argument checks, status before connect, close() and calls
 * after close.
 */
public class ClientLifecycleTest extends ClientTestSupport {

    @Test
    public void null_id_or_host_is_rejected() {
        expectEW(() -> new TestClient(null, "127.0.0.1"));
        expectEW(() -> new TestClient("id", null));
    }

    @Test
    public void new_client_is_disconnected_without_error() throws Exception {
        TestClient client = newClient("127.0.0.1");
        assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
        assertNull(client.getLastError());
    }

    @Test
    public void read_message_without_messages_returns_null_topic() throws Exception {
        TestClient client = newClient("127.0.0.1");
        MqttMessage message = client.readMessage();
        assertNull(message.getTopic());
        assertEquals(0, message.getPayload().length);
    }

    @Test
    public void to_string_names_id_and_host_but_no_secret() throws Exception {
        TestClient client = newClient("flexy-1234", "broker.example");
        client.setOption("PASSWORD", "hunter2-secret");
        String text = client.toString();
        assertContains("flexy-1234", text);
        assertContains("broker.example", text);
        assertNotContains("hunter2-secret", text);
    }

    @Test
    public void close_is_idempotent() throws Exception {
        TestClient client = newClient("127.0.0.1");
        client.close();
        client.close();
        assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
    }

    @Test
    public void calls_after_close_throw_closed() throws Exception {
        TestClient client = newClient("127.0.0.1");
        client.close();
        String topic = topic();
        for (ThrowingRunnable call : Arrays.<ThrowingRunnable>asList(
                () -> client.setOption("PORT", "1883"),
                client::connect,
                () -> client.subscribe(topic, 0),
                () -> client.unsubscribe(topic),
                client::readMessage,
                () -> client.publish(new MqttMessage(topic, "x"), 0, false))) {
            EWException e = expectEW(call);
            assertContains("closed", e.getMessage());
        }
        assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
        assertNull("getLastError() still answers after close", client.getLastError());
    }

    @Test
    public void close_of_a_connected_client_sends_disconnect() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        client.close();
        assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
        assertTrue("broker saw a DISCONNECT (\"Client <id> disconnected.\"):\n" + broker.log(),
                broker.awaitLog("Client " + client.clientId() + " disconnected.", 5_000));
        assertNull("a clean close is no error", client.getLastError());
        client.close();
    }

    @Test
    public void close_of_a_connecting_client_returns_promptly() throws Exception {
        TestClient client = newClient("127.0.0.1");
        client.setOption("PORT", "1");
        client.connect();
        long start = System.nanoTime();
        client.close();
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue("close() took " + ms + " ms", ms < 5_000);
        assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
    }

    @Test
    public void connect_twice_is_rejected() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        expectEW(client::connect);
        assertEquals("the first connection is not disturbed", MqttClient.STATUS_CONNECTED, client.getStatus());
    }

    @Test
    public void connect_returns_at_once_and_reports_progress_by_events() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        long start = System.nanoTime();
        client.connect();
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue("connect() took " + ms + " ms", ms < 1_000);
        assertConnected(client);
        assertTrue("a status event reported CONNECTED: " + client.describe(),
                client.awaitStatusEvent(MqttClient.STATUS_CONNECTED, CONNECT_MS));
        assertTrue("at least two status changes (connecting, connected): " + client.describe(),
                client.statusEvents() >= 2);
        assertTrue("no unknown event codes", client.unknownEvents() == 0);
        assertNull(client.getLastError());
    }

    @Test
    public void status_is_never_disconnected_while_connecting() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        for (int status : client.statusesSeen()) {
            assertTrue("status seen while connecting: " + client.statusesSeen(),
                    status == MqttClient.STATUS_STARTING || status == MqttClient.STATUS_CONNECTING
                            || status == MqttClient.STATUS_CONNECTED);
        }
    }

    @Test
    public void client_connects_by_host_name() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = newClient("localhost");
        client.setOption("PORT", Integer.toString(broker.port()));
        connectAndWait(client);
    }

    @Test
    public void client_connects_to_an_ipv6_literal() throws Exception {
        org.junit.Assume.assumeTrue("IPv6 loopback is configured", hasIpv6Loopback());
        Mosquitto broker = broker(Mosquitto.config().bind("::1"));
        TestClient client = newClient("::1");
        client.setOption("PORT", Integer.toString(broker.port()));
        connectAndWait(client);
        String topic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            client.publish(new MqttMessage(topic, "over ipv6"), 1, false);
            assertEquals(Arrays.asList("over ipv6"), textsOf(sub.awaitMessages(1, DELIVERY_MS)));
        }
    }

    private static boolean hasIpv6Loopback() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket()) {
            socket.bind(new java.net.InetSocketAddress(java.net.InetAddress.getByName("::1"), 0));
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    static java.util.List<String> textsOf(java.util.List<MosquittoSub.Received> received) {
        java.util.List<String> texts = new java.util.ArrayList<>();
        for (MosquittoSub.Received r : received) {
            texts.add(r.text());
        }
        return texts;
    }
}
