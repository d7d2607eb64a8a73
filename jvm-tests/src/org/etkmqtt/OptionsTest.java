package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.etkmqtt.harness.Waits;
import org.junit.Test;

/**
 * setOption: validation (name and accepted values in the message), and the
 * effect of each connection option on the CONNECT packet, as a real
 * Mosquitto logs and acts on it.
 */
public class OptionsTest extends ClientTestSupport {

    private TestClient offlineClient() throws Exception {
        return newClient("127.0.0.1");
    }

    private void assertRejected(String name, String value, String... phrases) throws Exception {
        TestClient client = offlineClient();
        EWException e = expectEW(() -> client.setOption(name, value));
        assertContains(name, e.getMessage());
        for (String phrase : phrases) {
            assertContains(phrase, e.getMessage());
        }
    }

    @Test
    public void unknown_option_is_rejected_by_name() throws Exception {
        TestClient client = offlineClient();
        EWException e = expectEW(() -> client.setOption("NOSUCHOPTION", "1"));
        assertContains("NOSUCHOPTION", e.getMessage());
    }

    @Test
    public void option_names_are_case_insensitive() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = newClient(broker.host());
        client.setOption("port", Integer.toString(broker.port()));
        client.setOption("keepAlive", "23");
        client.setOption("CleanSession", "0");
        connectAndWait(client);
        assertEquals("p2, c0, k23", connectFlags(broker, client.clientId()));
    }

    @Test
    public void port_must_be_1_to_65535() throws Exception {
        assertRejected("PORT", "0");
        assertRejected("PORT", "65536");
        assertRejected("PORT", "-1");
        assertRejected("PORT", "abc");
        assertRejected("PORT", "");
        TestClient client = offlineClient();
        client.setOption("PORT", "1");
        client.setOption("PORT", "65535");
    }

    @Test
    public void keepalive_must_be_a_number_of_seconds() throws Exception {
        assertRejected("KEEPALIVE", "abc");
        assertRejected("KEEPALIVE", "-5");
        assertRejected("KEEPALIVE", "65536");
        offlineClient().setOption("KEEPALIVE", "0");
    }

    @Test
    public void protocol_version_accepts_only_3_1_1() throws Exception {
        assertRejected("PROTOCOLVERSION", "5", "3.1.1");
        assertRejected("PROTOCOLVERSION", "3.1", "3.1.1");
        offlineClient().setOption("PROTOCOLVERSION", "3.1.1");
    }

    @Test
    public void tls_version_lists_the_accepted_values() throws Exception {
        assertRejected("TLSVERSION", "tlsv1.1", "tlsv1.2", "tlsv1.3");
        assertRejected("TLSVERSION", "ssl3", "tlsv1.2", "tlsv1.3");
        TestClient client = offlineClient();
        client.setOption("TLSVERSION", "tlsv1.2");
        client.setOption("TLSVERSION", "tlsv1.3");
    }

    @Test
    public void boolean_options_accept_0_and_1_only() throws Exception {
        for (String name : new String[] {"CLEANSESSION", "WILLRETAIN", "TLSVERIFYHOSTNAME"}) {
            assertRejected(name, "2", "0", "1");
            assertRejected(name, "yes", "0", "1");
            TestClient client = offlineClient();
            client.setOption(name, "0");
            client.setOption(name, "1");
        }
    }

    @Test
    public void will_qos_must_be_0_to_2() throws Exception {
        assertRejected("WILLQOS", "3");
        assertRejected("WILLQOS", "-1");
        TestClient client = offlineClient();
        client.setOption("WILLQOS", "0");
        client.setOption("WILLQOS", "2");
    }

    @Test
    public void max_inflight_must_be_1_to_65535() throws Exception {
        assertRejected("MAXINFLIGHT", "0");
        assertRejected("MAXINFLIGHT", "65536");
        assertRejected("MAXINFLIGHT", "many");
        TestClient client = offlineClient();
        client.setOption("MAXINFLIGHT", "1");
        client.setOption("MAXINFLIGHT", "65535");
    }

    @Test
    public void log_level_must_be_0_to_4() throws Exception {
        assertRejected("LOG", "5");
        assertRejected("LOG", "-1");
        assertRejected("LOG", "debug");
        TestClient client = offlineClient();
        client.setOption("LOG", "0");
        client.setOption("LOG", "4");
    }

    @Test
    public void connect_timeout_must_be_a_number_of_seconds() throws Exception {
        assertRejected("CONNECTTIMEOUT", "abc");
        assertRejected("CONNECTTIMEOUT", "-1");
        offlineClient().setOption("CONNECTTIMEOUT", "5");
    }

    @Test
    public void null_name_or_value_is_rejected() throws Exception {
        TestClient client = offlineClient();
        expectEW(() -> client.setOption(null, "1"));
        EWException e = expectEW(() -> client.setOption("PORT", null));
        assertContains("PORT", e.getMessage());
    }

    @Test
    public void set_option_after_connect_is_rejected() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        EWException e = expectEW(() -> client.setOption("KEEPALIVE", "10"));
        assertContains("connect", e.getMessage());
    }

    @Test
    public void certificate_tls_without_cafile_is_rejected_on_connect() throws Exception {
        TestPki pki = TestPki.get();
        TestClient client = offlineClient();
        client.setOption("PORT", "1");
        client.setOption("CERTFILE", pki.clientCert.getPath());
        client.setOption("KEYFILE", pki.clientKeyPkcs8.getPath());
        EWException e = expectEW(client::connect);
        assertContains("CAFILE", e.getMessage());
    }

    // ----- effect of options on the CONNECT packet, read from Mosquitto's log -----
    //
    // Mosquitto logs each CONNECT at notice level as "New client connected
    // from 127.0.0.1:PORT as ID (p2, c1, k60, u'user')." (p2 = MQTT 3.1.1,
    // c = clean session, k = keepalive, u = username, absent if none),
    // followed by "Will message specified (N bytes) (rR, qQ)." and a line
    // with a tab and the will topic, or by "No will message specified.".

    private static Pattern connectLog(String id) {
        return Pattern.compile("(?m)^\\d+: New client connected from 127\\.0\\.0\\.1:\\d+ as " + Pattern.quote(id)
                + " \\(([^)]*)\\)\\.\n\\d+: (No will message specified\\.|Will message specified \\((\\d+) bytes\\)"
                + " \\((r[01]), (q[0-2])\\)\\.\n\\d+: \t([^\n]*))$");
    }

    /** The broker's log of the CONNECT of {@code id}, waited for. */
    private static Matcher connectLogOf(Mosquitto broker, String id) {
        Pattern pattern = connectLog(id);
        assertTrue("the broker logged the CONNECT of " + id + ":\n" + broker.log(),
                Waits.until(CONNECT_MS, () -> pattern.matcher(broker.log()).find()));
        Matcher matcher = pattern.matcher(broker.log());
        assertTrue(matcher.find());
        return matcher;
    }

    /** "p2, c1, k60" (and ", u'name'") as logged for the CONNECT of {@code id}. */
    private static String connectFlags(Mosquitto broker, String id) {
        return connectLogOf(broker, id).group(1);
    }

    private Matcher connectTo(Mosquitto broker, String... options) throws Exception {
        TestClient client = clientFor(broker);
        client.options(options);
        connectAndWait(client);
        return connectLogOf(broker, client.clientId());
    }

    @Test
    public void connect_packet_has_protocol_3_1_1_and_defaults() throws Exception {
        Mosquitto broker = plainBroker();
        Matcher connect = connectTo(broker);
        assertEquals("MQTT 3.1.1 (p2), clean session, keepalive 60, no username", "p2, c1, k60", connect.group(1));
        assertEquals("no will by default", "No will message specified.", connect.group(2));
    }

    @Test
    public void keepalive_and_cleansession_are_sent() throws Exception {
        Mosquitto broker = plainBroker();
        Matcher connect = connectTo(broker, "KEEPALIVE", "17", "CLEANSESSION", "0", "PROTOCOLVERSION", "3.1.1");
        assertEquals("p2, c0, k17", connect.group(1));
    }

    @Test
    public void username_and_password_are_sent() throws Exception {
        Mosquitto broker = broker(Mosquitto.config().user("flexy-ä", "pä$$"));
        Matcher connect = connectTo(broker, "USERNAME", "flexy-ä", "PASSWORD", "pä$$");
        assertEquals("p2, c1, k60, u'flexy-ä'", connect.group(1));
        // connectTo waited for STATUS_CONNECTED: the password file accepted the password sent.
    }

    @Test
    public void a_wrong_password_is_refused_by_the_password_file() throws Exception {
        // Proves the previous test's success depends on the password sent, not just the username.
        Mosquitto broker = broker(Mosquitto.config().user("flexy-ä", "pä$$"));
        TestClient client = clientFor(broker);
        client.options("USERNAME", "flexy-ä", "PASSWORD", "pä$");
        assertContains("not authorized", connectFailure(client, CONNECT_MS));
    }

    @Test
    public void will_options_are_sent() throws Exception {
        Mosquitto broker = plainBroker();
        String willTopic = topic();
        String id = clientId();
        // The will is published only when the client dies without DISCONNECT: a child JVM killed with SIGKILL.
        ChildJvm child = closeLater(ChildJvm.start(broker.host(), id, "hang", "PORT=" + broker.port(),
                "WILLTOPIC=" + willTopic, "WILLPAYLOAD=offline", "WILLQOS=2", "WILLRETAIN=1"));
        assertTrue("child client connected:\n" + child.stdout() + "\nstderr:\n" + child.stderr(),
                child.awaitLine("CONNECTED", 30_000));
        Matcher connect = connectLogOf(broker, id);
        assertEquals("7", connect.group(3));
        assertEquals("r1", connect.group(4));
        assertEquals("q2", connect.group(5));
        assertEquals(willTopic, connect.group(6));
        child.kill();
        assertTrue("broker published the will:\n" + broker.log(),
                broker.awaitLog("Client " + id + " closed its connection.", DELIVERY_MS));
        // Subscribed after the will was published: only a retained will can arrive, at QoS 2 only if sent with 2.
        try (MosquittoSub sub = broker.mosquittoSub(willTopic, 2)) {
            List<MosquittoSub.Received> got = sub.awaitMessages(1, DELIVERY_MS);
            assertEquals(sub.output(), 1, got.size());
            assertEquals("offline", got.get(0).text());
            assertTrue("the will was retained", got.get(0).retained);
            assertEquals("the will has QoS 2", 2, got.get(0).qos);
        }
    }

    @Test
    public void will_defaults_to_qos_0_not_retained() throws Exception {
        Mosquitto broker = plainBroker();
        String willTopic = topic();
        Matcher connect = connectTo(broker, "WILLTOPIC", willTopic, "WILLPAYLOAD", "gone");
        assertEquals("4", connect.group(3));
        assertEquals("r0", connect.group(4));
        assertEquals("q0", connect.group(5));
        assertEquals(willTopic, connect.group(6));
    }

    // ----- default ports: a real broker on 1883 / 8883 (skipped if taken) -----

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    public void default_port_is_1883() throws Exception {
        assumeTrue("port 1883 is free on 127.0.0.1", isFree(1883));
        broker(Mosquitto.config().port(1883));
        TestClient client = newClient("127.0.0.1");
        connectAndWait(client);
    }

    @Test
    public void default_port_is_8883_when_tls_is_configured() throws Exception {
        assumeTrue("port 8883 is free on 127.0.0.1", isFree(8883));
        broker(Mosquitto.config().port(8883).tls(TestPki.get()));
        TestClient client = newClient("localhost");
        client.setOption("CAFILE", TestPki.get().caCert.getPath());
        connectAndWait(client);
    }

    @Test
    public void tls_option_names_work_in_lower_case() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        TestClient client = newClient("localhost");
        client.setOption("port", Integer.toString(broker.port()));
        client.setOption("cafile", TestPki.get().caCert.getPath());
        client.setOption("tlsversion", "tlsv1.2");
        connectAndWait(client);
    }
}
