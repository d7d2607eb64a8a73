package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.Ports;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.junit.Test;

/**
 * getLastError() names the cause of a failed connection in plain words. The
 * assertions look for stable key phrases, case-insensitively.
 */
public class ErrorReportingTest extends ClientTestSupport {
    private static final long ERROR_MS = 15_000;

    @Test
    public void refused_connection_says_refused() throws Exception {
        int port = Ports.freePort("127.0.0.1");
        TestClient client = newClient("127.0.0.1");
        client.setOption("PORT", Integer.toString(port));
        String error = connectFailure(client, ERROR_MS);
        assertContains("refused", error);
        assertEquals("keeps trying after a failure", MqttClient.STATUS_CONNECTING, client.getStatus());
    }

    @Test
    public void unknown_host_says_resolve_and_names_the_host() throws Exception {
        TestClient client = newClient("no-such-host.invalid");
        client.setOption("PORT", "1883");
        // The system resolver decides how long a failed lookup takes.
        String error = connectFailure(client, 40_000);
        assertContains("resolve", error);
        assertContains("no-such-host.invalid", error);
    }

    @Test
    public void silent_server_times_out_after_connecttimeout() throws Exception {
        // A frozen Mosquitto (SIGSTOP): the kernel completes the TCP handshake, no CONNACK ever comes.
        Mosquitto broker = plainBroker();
        broker.freeze();
        TestClient client = clientFor(broker);
        client.setOption("CONNECTTIMEOUT", "2");
        long start = System.nanoTime();
        client.connect();
        long connectMs = (System.nanoTime() - start) / 1_000_000;
        assertTrue("connect() returns at once, took " + connectMs + " ms", connectMs < 1_000);
        String error = client.awaitLastError(ERROR_MS);
        long errorMs = (System.nanoTime() - start) / 1_000_000;
        broker.resume();
        assertContains("timed out", error);
        assertTrue("CONNECTTIMEOUT 2 s is respected, reported after " + errorMs + " ms", errorMs >= 1_500);
        assertTrue("the TCP connection was made (the resumed broker accepts it from its backlog):\n"
                + broker.log(), broker.awaitLog("New connection from 127.0.0.1", 5_000));
    }

    // CONNACK codes 1 (protocol version), 3 (server unavailable) and 4 (bad
    // username or password), and a SUBACK failure, cannot be produced by
    // Mosquitto 2.0.11 for this client: it accepts our MQTT 3.1.1 CONNECT,
    // answers a wrong password with 5, has no setting that answers 3, and
    // grants every SUBSCRIBE (its ACL applies on delivery). The mapping of
    // every CONNACK code to its message is pinned by the unit tests in
    // rust/core/src/engine.rs (mod tests); codes 2 and 5 are tested below
    // against a real broker.

    @Test
    public void mosquitto_refusing_anonymous_client_says_not_authorized() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startWithPassword("alice", "alice-pw"));
        TestClient client = clientFor(broker);
        assertContains("not authorized", connectFailure(client, ERROR_MS));
    }

    @Test
    public void mosquitto_refusing_a_wrong_password_says_why_without_the_password() throws Exception {
        // Mosquitto 2.0 answers a wrong password with "not authorized" (5), not 4.
        Mosquitto broker = closeLater(Mosquitto.startWithPassword("alice", "alice-pw"));
        TestClient client = clientFor(broker);
        client.options("USERNAME", "alice", "PASSWORD", "not-alice-pw");
        String error = connectFailure(client, ERROR_MS);
        assertContains("not authorized", error);
        assertNotContains("not-alice-pw", error);
    }

    @Test
    public void mosquitto_rejecting_an_empty_client_id_says_identifier_rejected() throws Exception {
        Mosquitto broker = broker(Mosquitto.config().rejectEmptyClientId());
        TestClient client = newClient("", broker.host());
        client.setOption("PORT", Integer.toString(broker.port()));
        assertContains("identifier rejected", connectFailure(client, ERROR_MS));
    }

    @Test
    public void empty_client_id_with_a_persistent_session_says_identifier_rejected() throws Exception {
        // MQTT 3.1.1 (3.1.3-8): a broker must refuse an empty id with CleanSession 0; Mosquitto answers 2.
        Mosquitto broker = plainBroker();
        TestClient client = newClient("", broker.host());
        client.options("PORT", Integer.toString(broker.port()), "CLEANSESSION", "0");
        assertContains("identifier rejected", connectFailure(client, ERROR_MS));
    }

    @Test
    public void lost_connection_is_reported_at_once_as_lost() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        // A long first retry delay keeps "lost" the latest error while we look.
        client.setOption("RECONNECTMIN", "10");
        connectAndWait(client);
        broker.kill();
        assertTrue("status leaves CONNECTED as soon as the connection is lost: " + client.describe(),
                client.awaitStatus(MqttClient.STATUS_CONNECTING, 3_000));
        assertContains("lost", client.awaitLastError(3_000));
        assertTrue("a status event reported the change: " + client.describe(),
                client.statusesSeen().contains(MqttClient.STATUS_CONNECTING));
    }

    // ----- TLS -----

    @Test
    public void certificate_for_another_name_lists_the_names_it_is_valid_for() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        TestClient client = newClient("127.0.0.1");
        client.options("PORT", Integer.toString(broker.port()), "CAFILE", TestPki.get().caCert.getPath());
        String error = connectFailure(client, ERROR_MS);
        assertContains("valid for [localhost]", error);
        assertContains("127.0.0.1", error);
    }

    @Test
    public void certificate_from_an_unknown_ca_says_unknown() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(broker.port()), "CAFILE", TestPki.get().otherCaCert.getPath());
        assertContains("unknown", connectFailure(client, ERROR_MS));
    }

    @Test
    public void unknown_ca_is_rejected_even_without_hostname_verification() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(broker.port()), "CAFILE", TestPki.get().otherCaCert.getPath(),
                "TLSVERIFYHOSTNAME", "0");
        assertContains("unknown", connectFailure(client, ERROR_MS));
    }

    @Test
    public void expired_certificate_says_expired() throws Exception {
        TestPki pki = TestPki.get();
        Mosquitto broker = broker(Mosquitto.config().tls(pki).serverCert(pki.expiredServerCert));
        TestClient client = newClient("localhost");
        client.options("PORT", Integer.toString(broker.port()), "CAFILE", pki.caCert.getPath());
        assertContains("expired", connectFailure(client, ERROR_MS));
    }

    @Test
    public void missing_cafile_names_the_file() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTls(TestPki.get()));
        File missing = new File(TestPki.get().dir, "no-such-ca.crt");
        TestClient client = newClient("localhost");
        client.setOption("PORT", Integer.toString(broker.port()));
        String error;
        try {
            client.setOption("CAFILE", missing.getPath());
            error = connectFailure(client, ERROR_MS);
        } catch (EWException e) {
            error = e.getMessage();
        }
        assertContains("no-such-ca.crt", error);
    }

    private String clientKeyFailure(String keyFile, String keyPassword) throws Exception {
        TestPki pki = TestPki.get();
        Mosquitto broker = closeLater(Mosquitto.startTlsRequiringClientCertificate(pki));
        TestClient client = clientFor(broker);
        try {
            client.setOption("CERTFILE", pki.clientCert.getPath());
            client.setOption("KEYFILE", keyFile);
            if (keyPassword != null) {
                client.setOption("KEYPASSWORD", keyPassword);
            }
        } catch (EWException e) {
            return e.getMessage();
        }
        return connectFailure(client, ERROR_MS);
    }

    @Test
    public void missing_key_file_names_the_file() throws Exception {
        String error = clientKeyFailure(new File(TestPki.get().dir, "no-such-client.key").getPath(), null);
        assertContains("no-such-client.key", error);
    }

    @Test
    public void key_file_without_a_key_names_the_file() throws Exception {
        File garbage = TestPki.get().write("garbage.key", "this is not a PEM key\n");
        String error = clientKeyFailure(garbage.getPath(), null);
        assertContains("garbage.key", error);
    }

    @Test
    public void encrypted_key_without_keypassword_says_keypassword() throws Exception {
        String error = clientKeyFailure(TestPki.get().clientKeyPkcs8Encrypted.getPath(), null);
        assertContains("KEYPASSWORD", error);
    }

    @Test
    public void wrong_keypassword_says_keypassword_without_revealing_it() throws Exception {
        String error = clientKeyFailure(TestPki.get().clientKeyPkcs8Encrypted.getPath(), "Wr0ng-key-pw");
        assertContains("KEYPASSWORD", error);
        assertNotContains("Wr0ng-key-pw", error);
        assertNotContains(TestPki.KEY_PASSWORD, error);
    }

    @Test
    public void broker_requiring_a_client_certificate_rejects_a_client_without_one() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startTlsRequiringClientCertificate(TestPki.get()));
        TestClient client = clientFor(broker);
        String error = connectFailure(client, ERROR_MS);
        assertTrue("an error is reported: " + client.describe(), !error.isEmpty());
        assertTrue("never connected: " + client.describe(),
                !client.statusesSeen().contains(MqttClient.STATUS_CONNECTED));
    }
}
