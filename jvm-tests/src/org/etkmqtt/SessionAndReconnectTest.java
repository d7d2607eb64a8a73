package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/** CLEANSESSION, and what survives a lost connection. */
public class SessionAndReconnectTest extends ClientTestSupport {

    @Test
    public void persistent_session_receives_messages_published_while_away() throws Exception {
        Mosquitto broker = plainBroker();
        String id = clientId();
        String topic = topic();
        TestClient first = clientFor(broker, id);
        first.setOption("CLEANSESSION", "0");
        first.subscribe(topic, 1);
        connectAndWait(first);
        assertTrue(broker.awaitSubscription(id, topic, 5_000));
        first.close();
        assertTrue(broker.awaitLog("Client " + id + " disconnected.", 5_000));

        broker.mosquittoPub(topic, "while away", 1, false);

        TestClient second = clientFor(broker, id);
        second.setOption("CLEANSESSION", "0");
        connectAndWait(second);
        assertTrue("the broker kept the session and delivers on reconnect: " + second.describe(),
                second.awaitMessages(1, DELIVERY_MS));
        assertEquals(Arrays.asList("while away"), second.messageTexts());
        assertEquals(1, second.messages().get(0).getQos());
    }

    @Test
    public void clean_session_does_not_receive_messages_published_while_away() throws Exception {
        Mosquitto broker = plainBroker();
        String id = clientId();
        String topic = topic();
        TestClient first = clientFor(broker, id);
        first.subscribe(topic, 1);
        connectAndWait(first);
        assertTrue(broker.awaitSubscription(id, topic, 5_000));
        first.close();
        assertTrue(broker.awaitLog("Client " + id + " disconnected.", 5_000));

        broker.mosquittoPub(topic, "while away", 1, false);

        TestClient second = clientFor(broker, id);
        String marker = topic() + "/marker";
        second.subscribe(marker, 1);
        connectAndWait(second);
        assertTrue(broker.awaitSubscription(id, marker, 5_000));
        broker.mosquittoPub(marker, "marker", 1, false);
        assertTrue(second.describe(), second.awaitMessages(1, DELIVERY_MS));
        assertEquals("only the marker: the old session was discarded", Arrays.asList("marker"),
                second.messageTexts());
    }

    @Test
    public void subscriptions_are_restored_after_the_broker_restarts() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        String topic = topic();
        client.subscribe(topic, 1);
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), topic, 5_000));

        broker.restart();
        assertTrue("status event for the lost connection: " + client.describe(),
                client.awaitStatusEvent(MqttClient.STATUS_CONNECTING, 10_000));
        assertConnectedAgain(client);
        assertTrue("subscription restored (broker lost all sessions):\n" + broker.log(),
                broker.awaitSubscription(client.clientId(), topic, 10_000));
        broker.mosquittoPub(topic, "after restart", 1, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        assertEquals(Arrays.asList("after restart"), client.messageTexts());
    }

    @Test
    public void unsubscribed_filter_is_not_restored_after_reconnect() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        String kept = topic();
        String dropped = topic();
        client.subscribe(kept, 1);
        client.subscribe(dropped, 1);
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), dropped, 5_000));
        client.unsubscribe(dropped);
        assertTrue(broker.awaitLog("Received UNSUBSCRIBE from " + client.clientId(), 5_000));

        broker.restart();
        assertConnectedAgain(client);
        assertTrue(broker.awaitSubscription(client.clientId(), kept, 10_000));
        broker.mosquittoPub(dropped, "dropped", 1, false);
        broker.mosquittoPub(kept, "kept", 1, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        assertEquals(Arrays.asList("kept"), client.messageTexts());
    }

    @Test
    public void client_keeps_retrying_until_the_broker_comes_back() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        broker.stop();
        assertTrue(client.describe(), client.awaitStatus(MqttClient.STATUS_CONNECTING, 10_000));
        // Let a few attempts fail before the broker returns; the latest cause is a refused connection.
        Thread.sleep(3_000);
        assertEquals(MqttClient.STATUS_CONNECTING, client.getStatus());
        assertContains("refused", client.getLastError());
        broker.restart();
        assertConnectedAgain(client);
        String connectedLine = "as " + client.clientId() + " (";
        assertEquals("connected twice, to each broker start:\n" + broker.log(), 3,
                broker.log().split(java.util.regex.Pattern.quote(connectedLine), -1).length);
    }

    private static void assertConnectedAgain(TestClient client) {
        // Reconnect backoff may have grown while the broker was down.
        assertTrue("reconnected: " + client.describe(), client.awaitStatus(MqttClient.STATUS_CONNECTED, 40_000));
    }
}
