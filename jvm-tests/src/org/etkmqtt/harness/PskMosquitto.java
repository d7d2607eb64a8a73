package org.etkmqtt.harness;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A real Mosquitto broker with TLS-PSK listeners on free loopback ports, for
 * {@code PskTest}. {@link Mosquitto} configures one listener; PSK needs
 * several, each with its own authentication, so this broker sets
 * {@code per_listener_settings true} and writes:
 * <ul>
 * <li>{@link #pskPort()}: {@code psk_hint}/{@code psk_file}, anonymous
 * clients allowed, no ACL;</li>
 * <li>{@link #aclPort()}: the same {@code psk_file} with
 * {@code use_identity_as_username true} and an {@code acl_file}, so the
 * identity is the user the ACL names;</li>
 * <li>{@link #restrictedCipherPort()}: a PSK listener that accepts only
 * {@code PSK-AES256-GCM-SHA384};</li>
 * <li>{@link #certificatePort()}: a certificate listener (TestPki), no PSK.</li>
 * </ul>
 * Keys are made with {@code openssl rand -hex 32}. {@link #close()} stops the
 * broker and removes its directory.
 */
public final class PskMosquitto implements AutoCloseable, MosquittoSub.SubscriptionLog {
    private static final long START_TIMEOUT_MS = 10_000;
    private static final String HOST = "127.0.0.1";

    private final File dir;
    private final File confFile;
    private final File logFile;
    private final int pskPort;
    private final int aclPort;
    private final int restrictedCipherPort;
    private final int certificatePort;
    private final List<String> identities;
    private final List<String> keys;
    private Process process;

    /**
     * Starts a broker that knows each identity with a fresh random key.
     * {@code acl} is the content of the ACL file of {@link #aclPort()}.
     */
    public static PskMosquitto start(String acl, String... identities) {
        PskMosquitto broker;
        try {
            broker = new PskMosquitto(acl, Arrays.asList(identities));
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare mosquitto: " + e, e);
        }
        broker.startProcess();
        return broker;
    }

    private PskMosquitto(String acl, List<String> identities) throws IOException {
        dir = Files.createTempDirectory("etkmqtt-psk-mosquitto-").toFile();
        // As root, mosquitto may run as user "mosquitto": everything must be world-readable.
        Files.setPosixFilePermissions(dir.toPath(), PosixFilePermissions.fromString("rwxr-xr-x"));
        confFile = new File(dir, "mosquitto.conf");
        logFile = new File(dir, "mosquitto.log");
        this.identities = new ArrayList<>(identities);
        keys = new ArrayList<>();
        StringBuilder pskFile = new StringBuilder();
        for (String identity : identities) {
            String key = newKey();
            keys.add(key);
            pskFile.append(identity).append(':').append(key).append('\n');
        }
        File psk = write("psk_file", pskFile.toString());
        File aclFile = write("acl", acl);
        pskPort = Ports.freePort(HOST);
        aclPort = freePortOtherThan(pskPort);
        restrictedCipherPort = freePortOtherThan(pskPort, aclPort);
        certificatePort = freePortOtherThan(pskPort, aclPort, restrictedCipherPort);
        TestPki pki = TestPki.get();
        List<String> lines = new ArrayList<>(Arrays.asList(
                // Must come before the listeners: psk_file, acl_file and allow_anonymous become per listener.
                "per_listener_settings true",
                "log_dest stderr",
                "log_type all",
                "connection_messages true",
                "persistence false",
                "max_queued_messages 0",
                "user " + System.getProperty("user.name"),
                "",
                "listener " + pskPort + " " + HOST,
                "psk_hint etkmqtt-test",
                "psk_file " + psk.getPath(),
                "allow_anonymous true",
                "",
                "listener " + aclPort + " " + HOST,
                "psk_hint etkmqtt-test-acl",
                "psk_file " + psk.getPath(),
                "use_identity_as_username true",
                "acl_file " + aclFile.getPath(),
                "allow_anonymous false",
                "",
                "listener " + restrictedCipherPort + " " + HOST,
                "psk_hint etkmqtt-test-aes256",
                "psk_file " + psk.getPath(),
                "ciphers PSK-AES256-GCM-SHA384",
                "allow_anonymous true",
                "",
                "listener " + certificatePort + " " + HOST,
                "cafile " + pki.caCert.getPath(),
                "certfile " + pki.serverCert.getPath(),
                "keyfile " + pki.serverKey.getPath(),
                "allow_anonymous true"));
        write("mosquitto.conf", String.join("\n", lines) + "\n");
    }

    private static int freePortOtherThan(int... taken) {
        while (true) {
            int port = Ports.freePort(HOST);
            boolean clash = false;
            for (int t : taken) {
                clash |= t == port;
            }
            if (!clash) {
                return port;
            }
        }
    }

    /** A new 32-byte key as 64 hex digits, from {@code openssl rand -hex 32}. */
    public static String newKey() {
        String key = Processes.run(null, 15_000, "openssl", "rand", "-hex", "32").check().output.trim();
        if (!key.matches("[0-9a-f]{64}")) {
            throw new IllegalStateException("openssl rand -hex 32 printed: " + key);
        }
        return key;
    }

    private File write(String name, String text) throws IOException {
        File file = new File(dir, name);
        Files.write(file.toPath(), text.getBytes(StandardCharsets.UTF_8));
        Files.setPosixFilePermissions(file.toPath(), PosixFilePermissions.fromString("rw-r--r--"));
        return file;
    }

    public String host() {
        return HOST;
    }

    public int pskPort() {
        return pskPort;
    }

    public int aclPort() {
        return aclPort;
    }

    public int restrictedCipherPort() {
        return restrictedCipherPort;
    }

    public int certificatePort() {
        return certificatePort;
    }

    /** The hex key of {@code identity} in the broker's psk_file. */
    public String keyOf(String identity) {
        int i = identities.indexOf(identity);
        if (i < 0) {
            throw new IllegalArgumentException("unknown identity " + identity);
        }
        return keys.get(i);
    }

    /** The broker's log so far. */
    @Override
    public String log() {
        return logFile.exists() ? Processes.read(logFile) : "";
    }

    public boolean awaitLog(String text, long timeoutMs) {
        return Waits.until(timeoutMs, () -> log().contains(text));
    }

    /** Stops the broker (SIGTERM, then SIGKILL) and waits for it to exit. */
    public synchronized void stop() {
        ProcessGuard.stop(process, 5_000);
        process = null;
    }

    /** Starts the broker again on the same ports (after {@link #stop()}). */
    public synchronized void startAgain() {
        startProcess();
    }

    @Override
    public void close() {
        stop();
        Processes.deleteTree(dir);
    }

    @Override
    public String toString() {
        return "mosquitto with TLS-PSK on " + HOST + ":" + pskPort + " (ACL " + aclPort + ", certificate "
                + certificatePort + ")";
    }

    /** mosquitto_pub/mosquitto_sub arguments for {@code port} as {@code identity}. */
    public List<String> pskArgs(int port, String identity) {
        return new ArrayList<>(Arrays.asList("-h", HOST, "-p", Integer.toString(port), "--psk", keyOf(identity),
                "--psk-identity", identity));
    }

    /** Publishes one message with mosquitto_pub over TLS-PSK (waits until it was sent). */
    public void pskPub(int port, String identity, String topic, String payload, int qos, boolean retain) {
        List<String> command = new ArrayList<>();
        command.add("mosquitto_pub");
        command.addAll(pskArgs(port, identity));
        command.addAll(Arrays.asList("-i", "etkmqtt-psk-pub-" + System.nanoTime(), "-t", topic, "-q",
                Integer.toString(qos), "-m", payload));
        if (retain) {
            command.add("-r");
        }
        Processes.run(null, 15_000, null, command).check();
    }

    /** Starts mosquitto_sub over TLS-PSK; returns once the broker has the subscription. */
    public MosquittoSub pskSub(int port, String identity, String topic, int qos) {
        return MosquittoSub.start(this, pskArgs(port, identity), topic, qos);
    }

    /** mosquitto logs "{@code <id> <qos> <filter>}" as it adds a subscription (client ids are never reused). */
    @Override
    public boolean awaitSubscription(String clientId, String filter, long timeoutMs) {
        Pattern line = Mosquitto.subscriptionLine(clientId, filter);
        return Waits.until(timeoutMs, () -> line.matcher(log()).find());
    }

    private synchronized void startProcess() {
        ProcessBuilder builder = new ProcessBuilder(Mosquitto.BINARY, "-c", confFile.getPath()).directory(dir)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile));
        try {
            process = ProcessGuard.start(builder);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + Mosquitto.BINARY + ": " + e, e);
        }
        long deadline = System.nanoTime() + START_TIMEOUT_MS * 1_000_000L;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                ProcessGuard.forget(process);
                process = null;
                throw new IllegalStateException("mosquitto exited at start, log:\n" + log());
            }
            if (Ports.accepts(HOST, pskPort) && Ports.accepts(HOST, aclPort)
                    && Ports.accepts(HOST, restrictedCipherPort) && Ports.accepts(HOST, certificatePort)) {
                return;
            }
            Waits.sleep(50);
        }
        stop();
        throw new IllegalStateException("mosquitto did not listen within " + START_TIMEOUT_MS + " ms, log:\n"
                + log());
    }
}
