package org.etkmqtt;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.FakeBroker;
import org.etkmqtt.harness.FakeBroker.ConnectPacket;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.junit.Test;

/**
 * setOption: validation (name and accepted values in the message), and the
 * effect of each connection option on the CONNECT packet, read by a
 * {@link FakeBroker}.
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
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        TestClient client = newClient(broker.host());
        client.setOption("port", Integer.toString(broker.port()));
        client.setOption("keepAlive", "23");
        client.setOption("CleanSession", "0");
        client.connect();
        ConnectPacket packet = broker.awaitConnect(CONNECT_MS);
        assertNotNull("the broker received CONNECT: " + client.describe(), packet);
        assertEquals(23, packet.keepAliveSeconds);
        assertFalse(packet.cleanSession());
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
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        TestClient client = newClient(broker.host());
        client.setOption("PORT", Integer.toString(broker.port()));
        client.connect();
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

    // ----- effect of options on the CONNECT packet -----

    private ConnectPacket connectTo(FakeBroker broker, String id, String... options) throws Exception {
        TestClient client = newClient(id, broker.host());
        client.setOption("PORT", Integer.toString(broker.port()));
        client.options(options);
        client.connect();
        ConnectPacket packet = broker.awaitConnect(CONNECT_MS);
        assertNotNull("the broker received CONNECT: " + client.describe(), packet);
        return packet;
    }

    @Test
    public void connect_packet_has_protocol_3_1_1_and_defaults() throws Exception {
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        String id = clientId();
        ConnectPacket packet = connectTo(broker, id);
        assertEquals("MQTT", packet.protocolName);
        assertEquals("protocol level 4 is MQTT 3.1.1", 4, packet.protocolLevel);
        assertEquals(id, packet.clientId);
        assertEquals("default KEEPALIVE", 60, packet.keepAliveSeconds);
        assertTrue("default CLEANSESSION is 1", packet.cleanSession());
        assertFalse("no will by default", packet.willFlag());
        assertNull(packet.username);
        assertNull(packet.password);
    }

    @Test
    public void keepalive_and_cleansession_are_sent() throws Exception {
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        ConnectPacket packet = connectTo(broker, clientId(), "KEEPALIVE", "17", "CLEANSESSION", "0",
                "PROTOCOLVERSION", "3.1.1");
        assertEquals(17, packet.keepAliveSeconds);
        assertFalse(packet.cleanSession());
    }

    @Test
    public void username_and_password_are_sent() throws Exception {
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        ConnectPacket packet = connectTo(broker, clientId(), "USERNAME", "flexy-ä", "PASSWORD", "pä$$");
        assertEquals("flexy-ä", packet.username);
        assertArrayEquals("pä$$".getBytes(StandardCharsets.UTF_8), packet.password);
    }

    @Test
    public void will_options_are_sent() throws Exception {
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        ConnectPacket packet = connectTo(broker, clientId(), "WILLTOPIC", "flexy/1/state", "WILLPAYLOAD",
                "offline", "WILLQOS", "2", "WILLRETAIN", "1");
        assertTrue(packet.willFlag());
        assertEquals("flexy/1/state", packet.willTopic);
        assertArrayEquals("offline".getBytes(StandardCharsets.UTF_8), packet.willPayload);
        assertEquals(2, packet.willQos());
        assertTrue(packet.willRetain());
    }

    @Test
    public void will_defaults_to_qos_0_not_retained() throws Exception {
        FakeBroker broker = closeLater(FakeBroker.answering(FakeBroker.ACCEPT));
        ConnectPacket packet = connectTo(broker, clientId(), "WILLTOPIC", "flexy/2/state", "WILLPAYLOAD", "gone");
        assertTrue(packet.willFlag());
        assertEquals(0, packet.willQos());
        assertFalse(packet.willRetain());
    }

    // ----- default ports: observed by listening on them (skipped if taken) -----

    private static ServerSocket listenOn(int port) {
        try {
            ServerSocket socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port));
            return socket;
        } catch (IOException e) {
            return null;
        }
    }

    private void assertConnectsToPort(int port, String... options) throws Exception {
        ServerSocket listener = listenOn(port);
        assumeTrue("port " + port + " is free on 127.0.0.1", listener != null);
        try {
            listener.setSoTimeout((int) CONNECT_MS);
            TestClient client = newClient("127.0.0.1");
            client.options(options);
            client.connect();
            try (Socket accepted = listener.accept()) {
                assertEquals(port, accepted.getLocalPort());
            }
        } finally {
            listener.close();
        }
    }

    @Test
    public void default_port_is_1883() throws Exception {
        assertConnectsToPort(1883);
    }

    @Test
    public void default_port_is_8883_when_tls_is_configured() throws Exception {
        assertConnectsToPort(8883, "CAFILE", TestPki.get().caCert.getPath());
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
