package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.util.Arrays;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.FakeBroker;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.junit.Test;

/** Certificate TLS that works: server verification, client keys in every format, TLS versions. */
public class TlsTest extends ClientTestSupport {

    private void assertRoundTrip(Mosquitto broker, TestClient client) throws Exception {
        String topic = topic();
        try (MosquittoSub sub = broker.mosquittoSub(topic, 1)) {
            client.publish(new MqttMessage(topic, "over tls"), 1, false);
            assertEquals(Arrays.asList("over tls"), ClientLifecycleTest.textsOf(sub.awaitMessages(1, DELIVERY_MS)));
        }
    }

    @Test
    public void tls_with_cafile_connects_and_publishes() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        TestClient client = clientFor(broker);
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }

    @Test
    public void disabling_hostname_verification_allows_an_ip_address() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        TestClient client = newClient("127.0.0.1");
        client.options("PORT", Integer.toString(broker.port()), "CAFILE", TestPki.get().caCert.getPath(),
                "TLSVERIFYHOSTNAME", "0");
        connectAndWait(client);
    }

    private void assertClientCertificateWorks(File cert, File key, String keyPassword) throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTlsRequiringClientCertificate(TestPki.get()));
        TestClient client = clientFor(broker);
        client.setOption("CERTFILE", cert.getPath());
        client.setOption("KEYFILE", key.getPath());
        if (keyPassword != null) {
            client.setOption("KEYPASSWORD", keyPassword);
        }
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }

    @Test
    public void client_certificate_with_pkcs1_rsa_key() throws Exception {
        TestPki pki = TestPki.get();
        assertClientCertificateWorks(pki.clientCert, pki.clientKeyPkcs1, null);
    }

    @Test
    public void client_certificate_with_pkcs8_key() throws Exception {
        TestPki pki = TestPki.get();
        assertClientCertificateWorks(pki.clientCert, pki.clientKeyPkcs8, null);
    }

    @Test
    public void client_certificate_with_encrypted_pkcs8_key_and_keypassword() throws Exception {
        TestPki pki = TestPki.get();
        assertClientCertificateWorks(pki.clientCert, pki.clientKeyPkcs8Encrypted, TestPki.KEY_PASSWORD);
    }

    @Test
    public void client_certificate_with_sec1_ec_key() throws Exception {
        TestPki pki = TestPki.get();
        assertClientCertificateWorks(pki.clientEcCert, pki.clientEcKeySec1, null);
    }

    @Test
    public void client_certificate_with_sec1_ec_key_after_ec_parameters() throws Exception {
        TestPki pki = TestPki.get();
        assertClientCertificateWorks(pki.clientEcCert, pki.clientEcKeySec1WithParams, null);
    }

    @Test
    public void tlsv1_2_is_a_minimum_so_a_tls_1_3_server_negotiates_1_3() throws Exception {
        FakeBroker server = closeLater(FakeBroker.tls(TestPki.get(), "TLSv1.2", "TLSv1.3"));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(server.port()), "CAFILE", TestPki.get().caCert.getPath(),
                "TLSVERSION", "tlsv1.2");
        client.connect();
        assertEquals("TLSv1.3", server.awaitTlsProtocol(CONNECT_MS));
        assertConnected(client);
    }

    @Test
    public void tlsv1_2_connects_to_a_tls_1_2_only_server() throws Exception {
        FakeBroker server = closeLater(FakeBroker.tls(TestPki.get(), "TLSv1.2"));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(server.port()), "CAFILE", TestPki.get().caCert.getPath(),
                "TLSVERSION", "tlsv1.2");
        client.connect();
        assertEquals("TLSv1.2", server.awaitTlsProtocol(CONNECT_MS));
        assertConnected(client);
    }

    @Test
    public void tlsv1_3_refuses_a_tls_1_2_only_server() throws Exception {
        FakeBroker server = closeLater(FakeBroker.tls(TestPki.get(), "TLSv1.2"));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(server.port()), "CAFILE", TestPki.get().caCert.getPath(),
                "TLSVERSION", "tlsv1.3");
        String error = connectFailure(client, 15_000);
        assertContains("version", error);
        assertEquals("no handshake completed", null, server.awaitTlsProtocol(500));
        assertEquals(0, server.connectCount());
    }

    @Test
    public void tlsv1_3_connects_to_mosquitto() throws Exception {
        Mosquitto broker = broker(Mosquitto.config().tls(TestPki.get()).tlsVersion("tlsv1.3"));
        TestClient client = clientFor(broker);
        client.setOption("TLSVERSION", "tlsv1.3");
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }

    @Test
    public void default_tls_version_connects_to_a_tls_1_2_only_server() throws Exception {
        FakeBroker server = closeLater(FakeBroker.tls(TestPki.get(), "TLSv1.2"));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(server.port()), "CAFILE", TestPki.get().caCert.getPath());
        client.connect();
        assertNotNull(server.awaitTlsProtocol(CONNECT_MS));
        assertConnected(client);
        assertTrue(server.failures().isEmpty());
    }
}
