package org.etkmqtt.harness;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.etkmqtt.EWException;
import org.etkmqtt.MqttClient;
import org.junit.After;
import org.junit.Rule;
import org.junit.rules.TestName;
import org.junit.rules.Timeout;

/**
 * Base class of the tests that use the native library: a time limit on every
 * test, unique client ids and topics, and everything opened by a test
 * (clients, brokers, subscribers, child JVMs) closed after it, newest first.
 */
public abstract class ClientTestSupport {
    /** How long a client may take to connect to a local broker. */
    protected static final long CONNECT_MS = 10_000;
    /** How long a message may take to arrive through a local broker. */
    protected static final long DELIVERY_MS = 10_000;

    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    @Rule
    public final Timeout timeout = Timeout.builder().withTimeout(120, TimeUnit.SECONDS)
            .withLookingForStuckThread(true).build();

    @Rule
    public final TestName testName = new TestName();

    private final List<AutoCloseable> opened = new ArrayList<>();

    /** Closes {@code resource} after the test (newest first). */
    protected <T extends AutoCloseable> T closeLater(T resource) {
        synchronized (opened) {
            opened.add(resource);
        }
        return resource;
    }

    @After
    public void closeEverything() throws Exception {
        List<AutoCloseable> all;
        synchronized (opened) {
            all = new ArrayList<>(opened);
            opened.clear();
        }
        Exception first = null;
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** A client id unique in this run, readable in broker logs. */
    protected String clientId() {
        String name = testName.getMethodName();
        if (name.length() > 40) {
            name = name.substring(0, 40);
        }
        return "etk-" + name + "-" + ProcessHandle.current().pid() + "-" + SEQUENCE.incrementAndGet();
    }

    /** A topic unique in this run. */
    protected String topic() {
        return "etkmqtt/test/" + testName.getMethodName() + "/" + SEQUENCE.incrementAndGet();
    }

    protected TestClient newClient(String host) throws Exception {
        return newClient(clientId(), host);
    }

    protected TestClient newClient(String id, String host) throws Exception {
        TestClient client = new TestClient(id, host);
        closeLater(client::close);
        return client;
    }

    /** A new client for {@code broker} with PORT (and, for TLS brokers, CAFILE) set. */
    protected TestClient clientFor(Mosquitto broker) throws Exception {
        return clientFor(broker, clientId());
    }

    protected TestClient clientFor(Mosquitto broker, String id) throws Exception {
        TestClient client = newClient(id, broker.isTls() ? "localhost" : broker.host());
        client.setOption("PORT", Integer.toString(broker.port()));
        if (broker.isTls()) {
            client.setOption("CAFILE", TestPki.get().caCert.getPath());
        }
        return client;
    }

    protected Mosquitto broker(Mosquitto.Config config) {
        return closeLater(Mosquitto.start(config));
    }

    protected Mosquitto plainBroker() {
        return closeLater(Mosquitto.startPlain());
    }

    /** Connects and fails the test unless the client is connected within {@link #CONNECT_MS}. */
    protected static void connectAndWait(TestClient client) throws EWException {
        client.connect();
        assertConnected(client);
    }

    protected static void assertConnected(TestClient client) {
        if (!client.awaitStatus(MqttClient.STATUS_CONNECTED, CONNECT_MS)) {
            fail("not connected within " + CONNECT_MS + " ms: " + client.describe());
        }
    }

    /**
     * Connects and returns why it failed: the message of an EWException from
     * connect(), or else getLastError() once set. Fails the test if the client
     * connects or nothing is reported within {@code timeoutMs}.
     */
    protected static String connectFailure(TestClient client, long timeoutMs) {
        try {
            client.connect();
        } catch (EWException e) {
            return e.getMessage();
        }
        String error = client.awaitLastError(timeoutMs);
        if (error == null) {
            fail("getLastError() still null after " + timeoutMs + " ms: " + client.describe());
        }
        try {
            if (client.getStatus() == MqttClient.STATUS_CONNECTED) {
                fail("connected although the connection should fail: " + client.describe());
            }
        } catch (EWException e) {
            throw new AssertionError(e);
        }
        return error;
    }

    /** Asserts that {@code text} contains {@code phrase}, ignoring case. */
    protected static void assertContains(String phrase, String text) {
        assertTrue("expected \"" + phrase + "\" in: " + text,
                text != null && text.toLowerCase(Locale.ROOT).contains(phrase.toLowerCase(Locale.ROOT)));
    }

    /** Asserts that {@code text} does not contain {@code phrase}. */
    protected static void assertNotContains(String phrase, String text) {
        assertTrue("did not expect \"" + phrase + "\" in: " + text, text == null || !text.contains(phrase));
    }

    /** Runs {@code action} and returns the EWException it throws; fails if it throws none. */
    protected static EWException expectEW(ThrowingRunnable action) {
        try {
            action.run();
        } catch (EWException e) {
            return e;
        } catch (Exception e) {
            throw new AssertionError("expected EWException, got " + e, e);
        }
        throw new AssertionError("expected EWException, but the call succeeded");
    }

    /** A call that may throw. */
    public interface ThrowingRunnable {
        void run() throws Exception;
    }
}
