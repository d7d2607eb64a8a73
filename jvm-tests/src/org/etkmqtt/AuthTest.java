package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/** USERNAME/PASSWORD against Mosquitto's password_file, and what its ACL refuses. */
public class AuthTest extends ClientTestSupport {
    private static final String ACL = "user alice\ntopic readwrite plant/alice/#\n";

    private Mosquitto aclBroker() {
        return broker(Mosquitto.config().user("alice", "alice-Pw-1").acl(ACL));
    }

    private TestClient alice(Mosquitto broker) throws Exception {
        TestClient client = clientFor(broker);
        client.options("USERNAME", "alice", "PASSWORD", "alice-Pw-1");
        return client;
    }

    @Test
    public void correct_username_and_password_connect() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startWithPassword("alice", "alice-Pw-1"));
        TestClient client = alice(broker);
        connectAndWait(client);
        assertTrue("broker logged the user:\n" + broker.log(),
                broker.awaitLog("as " + client.clientId() + " (p2, c1, k60, u'alice')", 5_000));
        assertNull(client.getLastError());
    }

    @Test
    public void publish_outside_the_acl_is_not_delivered_and_the_client_stays_connected() throws Exception {
        Mosquitto broker = aclBroker();
        TestClient client = alice(broker);
        client.subscribe("plant/alice/#", 1);
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), "plant/alice/#", 5_000));
        client.publish(new MqttMessage("plant/bob/setpoint", "denied"), 1, false);
        client.publish(new MqttMessage("plant/alice/setpoint", "allowed"), 1, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        assertEquals(Arrays.asList("allowed"), client.messageTexts());
        assertTrue("mosquitto denied the other publish:\n" + broker.log(),
                broker.awaitLog("Denied PUBLISH from " + client.clientId(), 5_000));
        assertEquals(MqttClient.STATUS_CONNECTED, client.getStatus());
    }
}
