package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.List;

import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.junit.Test;

/**
 * Tests that run the client in a second JVM: the will needs a client that
 * dies without a DISCONNECT (SIGKILL), and the LOG option writes to the
 * process's stderr.
 */
public class WillAndLogTest extends ClientTestSupport {

    private ChildJvm child(Mosquitto broker, String id, String mode, String... options) {
        String[] all = new String[options.length + 1];
        all[0] = "PORT=" + broker.port();
        System.arraycopy(options, 0, all, 1, options.length);
        return closeLater(ChildJvm.start(broker.isTls() ? "localhost" : broker.host(), id, mode, all));
    }

    private static void assertChildConnected(ChildJvm child) {
        assertTrue("child client connected:\n" + child.stdout() + "\nstderr:\n" + child.stderr(),
                child.awaitLine("CONNECTED", 30_000));
    }

    @Test
    public void will_is_published_when_the_client_dies() throws Exception {
        Mosquitto broker = plainBroker();
        String willTopic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(willTopic, 2)) {
            ChildJvm child = child(broker, clientId(), "hang", "WILLTOPIC=" + willTopic,
                    "WILLPAYLOAD=flexy went away", "WILLQOS=1");
            assertChildConnected(child);
            child.kill();
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output() + "\nbroker log:\n" + broker.log(), 1, got.size());
            assertEquals("flexy went away", got.get(0).text());
            assertEquals(1, got.get(0).qos);
        }
    }

    @Test
    public void retained_will_is_kept_by_the_broker() throws Exception {
        Mosquitto broker = plainBroker();
        String willTopic = topic();
        String id = clientId();
        ChildJvm child = child(broker, id, "hang", "WILLTOPIC=" + willTopic, "WILLPAYLOAD=offline",
                "WILLQOS=1", "WILLRETAIN=1");
        assertChildConnected(child);
        child.kill();
        assertTrue("broker published the will:\n" + broker.log(),
                broker.awaitLog("Client " + id + " closed its connection.", DELIVERY_MS));
        try (MosquittoSub sub = broker.mosquittoSub(willTopic, 1)) {
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output(), 1, got.size());
            assertEquals("offline", got.get(0).text());
            assertTrue("delivered from the retained store", got.get(0).retained);
        }
    }

    @Test
    public void will_is_not_published_after_close() throws Exception {
        Mosquitto broker = plainBroker();
        String willTopic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(willTopic, 1)) {
            TestClient client = clientFor(broker);
            client.options("WILLTOPIC", willTopic, "WILLPAYLOAD", "should not appear");
            connectAndWait(client);
            client.close();
            assertTrue(broker.awaitLog("Client " + client.clientId() + " disconnected.", 5_000));
            broker.mosquittoPub(willTopic, "marker", 1, false);
            sub.awaitMessages(1, DELIVERY_MS);
            sub.awaitMessages(2, 300);
            assertEquals("only the marker; close() sent DISCONNECT, which discards the will",
                    java.util.Arrays.asList("marker"), sub.texts());
        }
    }

    @Test
    public void log_level_4_names_the_client_and_hides_the_password() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startWithPassword("alice", "S3cret-alice-pw"));
        String id = clientId();
        ChildJvm child = child(broker, id, "roundtrip:" + topic(), "LOG=4", "USERNAME=alice",
                "PASSWORD=S3cret-alice-pw");
        assertEquals("child exits normally:\n" + child.stdout() + "\nstderr:\n" + child.stderr(), 0,
                child.waitFor(60_000));
        String stderr = child.stderr();
        assertContains(id, stderr);
        assertNotContains("S3cret-alice-pw", stderr);
    }

    @Test
    public void log_hides_the_key_password() throws Exception {
        TestPki pki = TestPki.get();
        Mosquitto broker = closeLater(Mosquitto.startTlsRequiringClientCertificate(pki));
        String id = clientId();
        ChildJvm child = child(broker, id, "roundtrip:" + topic(), "LOG=4", "CAFILE=" + pki.caCert.getPath(),
                "CERTFILE=" + pki.clientCert.getPath(), "KEYFILE=" + pki.clientKeyPkcs8Encrypted.getPath(),
                "KEYPASSWORD=" + TestPki.KEY_PASSWORD);
        assertEquals("child exits normally:\n" + child.stdout() + "\nstderr:\n" + child.stderr(), 0,
                child.waitFor(60_000));
        String stderr = child.stderr();
        assertContains(id, stderr);
        assertNotContains(TestPki.KEY_PASSWORD, stderr);
    }

    @Test
    public void log_level_0_writes_nothing_about_the_client() throws Exception {
        Mosquitto broker = plainBroker();
        String id = clientId();
        ChildJvm child = child(broker, id, "roundtrip:" + topic(), "LOG=0");
        assertEquals("child exits normally:\n" + child.stdout() + "\nstderr:\n" + child.stderr(), 0,
                child.waitFor(60_000));
        assertFalse("nothing logged with LOG 0:\n" + child.stderr(), child.stderr().contains(id));
    }
}
