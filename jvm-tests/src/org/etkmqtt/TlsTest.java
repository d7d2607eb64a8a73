package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;

import java.io.File;
import java.util.Arrays;

import org.etkmqtt.harness.ClientTestSupport;
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

    /**
     * A Mosquitto whose OpenSSL negotiates at most TLS 1.2 (Mosquitto's own
     * {@code tls_version} is only a minimum), checked with openssl s_client
     * so that a passing test cannot come from a broker that also speaks 1.3.
     */
    private Mosquitto tls12OnlyBroker() {
        Mosquitto broker = broker(Mosquitto.config().tls(TestPki.get()).maxTlsVersion("TLSv1.2"));
        assertNull("the broker refuses TLS 1.3", broker.opensslHandshake("-tls1_3"));
        assertEquals("the broker speaks TLS 1.2", "TLSv1.2", broker.opensslHandshake("-tls1_2"));
        return broker;
    }

    /** A Mosquitto with {@code tls_version tlsv1.3}: it refuses TLS 1.2 (checked with openssl s_client). */
    private Mosquitto tls13OnlyBroker() {
        Mosquitto broker = broker(Mosquitto.config().tls(TestPki.get()).tlsVersion("tlsv1.3"));
        assertNull("the broker refuses TLS 1.2", broker.opensslHandshake("-tls1_2"));
        assertEquals("the broker speaks TLS 1.3", "TLSv1.3", broker.opensslHandshake("-tls1_3"));
        return broker;
    }

    @Test
    public void tlsv1_2_is_a_minimum_so_a_tls_1_3_only_broker_accepts_it() throws Exception {
        // The broker speaks nothing but TLS 1.3, so connecting proves TLSVERSION tlsv1.2 allowed 1.3.
        Mosquitto broker = tls13OnlyBroker();
        TestClient client = clientFor(broker);
        client.setOption("TLSVERSION", "tlsv1.2");
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }

    @Test
    public void tlsv1_2_connects_to_a_tls_1_2_only_broker() throws Exception {
        Mosquitto broker = tls12OnlyBroker();
        TestClient client = clientFor(broker);
        client.setOption("TLSVERSION", "tlsv1.2");
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }

    @Test
    public void tlsv1_3_refuses_a_tls_1_2_only_broker() throws Exception {
        Mosquitto broker = tls12OnlyBroker();
        TestClient client = clientFor(broker);
        client.setOption("TLSVERSION", "tlsv1.3");
        String error = connectFailure(client, 15_000);
        assertContains("version", error);
        assertFalse("no MQTT session was made:\n" + broker.log(),
                broker.log().contains(" as " + client.clientId() + " "));
    }

    @Test
    public void tlsv1_3_connects_to_mosquitto() throws Exception {
        Mosquitto broker = tls13OnlyBroker();
        TestClient client = clientFor(broker);
        client.setOption("TLSVERSION", "tlsv1.3");
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }

    @Test
    public void default_tls_version_connects_to_a_tls_1_2_only_broker() throws Exception {
        Mosquitto broker = tls12OnlyBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        assertRoundTrip(broker, client);
    }
}
