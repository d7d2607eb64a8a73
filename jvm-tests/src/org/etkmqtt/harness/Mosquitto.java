package org.etkmqtt.harness;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Mosquitto broker ({@code /usr/sbin/mosquitto -c <conf>}) on a free
 * loopback port, with its configuration and log in a temporary directory.
 *
 * <p>Start one with {@link #start(Config)} or a shortcut such as
 * {@link #startPlain()}; {@link #close()} stops it and removes the directory.
 * A shutdown hook and a watchdog ({@link ProcessGuard}) make sure it never
 * outlives the tests.
 */
public final class Mosquitto implements AutoCloseable, MosquittoSub.SubscriptionLog {
    public static final String BINARY = "/usr/sbin/mosquitto";
    private static final long START_TIMEOUT_MS = 10_000;

    /** What the broker's single listener looks like. */
    public static final class Config {
        String bindAddress = "127.0.0.1";
        /** 0: a free port is chosen. */
        int fixedPort;
        TestPki pki;
        File certFile;
        boolean requireCertificate;
        String tlsVersion;
        String maxTlsVersion;
        final List<String> users = new ArrayList<>();
        String acl;
        boolean allowZeroLengthClientId = true;
        final List<String> extraLines = new ArrayList<>();

        /** Listens on {@code address} (default 127.0.0.1; "::1" for IPv6). */
        /** Listens on this port instead of a free one (for default-port tests). */
        public Config port(int port) {
            this.fixedPort = port;
            return this;
        }

        public Config bind(String address) {
            bindAddress = address;
            return this;
        }

        /** A TLS listener with the PKI's CA and server certificate (valid for "localhost"). */
        public Config tls(TestPki testPki) {
            pki = testPki;
            certFile = testPki.serverCert;
            return this;
        }

        /** Presents {@code cert} (same key as the server certificate) instead. */
        public Config serverCert(File cert) {
            certFile = cert;
            return this;
        }

        /** Clients must present a certificate signed by the PKI's CA. */
        public Config requireCertificate() {
            requireCertificate = true;
            return this;
        }

        /** Minimum TLS version of the listener, for example "tlsv1.3". */
        public Config tlsVersion(String version) {
            tlsVersion = version;
            return this;
        }

        /**
         * Highest TLS version the broker's OpenSSL will negotiate, for example
         * "TLSv1.2". Mosquitto 2.0.11 has no setting for it ({@code tls_version}
         * is a minimum), so it is set with OpenSSL's own configuration
         * ({@code MaxProtocol} in a file named by {@code OPENSSL_CONF}).
         */
        public Config maxTlsVersion(String version) {
            maxTlsVersion = version;
            return this;
        }

        /** Adds a user to a password file (made with mosquitto_passwd); anonymous clients are refused. */
        public Config user(String name, String password) {
            users.add(name);
            users.add(password);
            return this;
        }

        /** An ACL file with this content. */
        public Config acl(String aclText) {
            acl = aclText;
            return this;
        }

        /** Rejects CONNECT with an empty client id (CONNACK "identifier rejected"). */
        public Config rejectEmptyClientId() {
            allowZeroLengthClientId = false;
            return this;
        }

        /** Appends a raw line to mosquitto.conf. */
        public Config line(String configLine) {
            extraLines.add(configLine);
            return this;
        }
    }

    private final Config config;
    private final File dir;
    private final File logFile;
    private final File confFile;
    private final int port;
    private Process process;
    private boolean frozen;
    private int starts;
    private volatile int logOffsetAtStart;

    private Mosquitto(Config config) throws IOException {
        this.config = config;
        this.dir = Files.createTempDirectory("etkmqtt-mosquitto-").toFile();
        this.logFile = new File(dir, "mosquitto.log");
        this.confFile = new File(dir, "mosquitto.conf");
        this.port = config.fixedPort != 0 ? config.fixedPort : Ports.freePort(config.bindAddress);
        writeConfig();
    }

    public static Config config() {
        return new Config();
    }

    /** A plain listener on 127.0.0.1 that accepts anonymous clients. */
    public static Mosquitto startPlain() {
        return start(config());
    }

    /** A TLS listener with the PKI's server certificate. */
    public static Mosquitto startTls(TestPki pki) {
        return start(config().tls(pki));
    }

    /** A TLS listener that requires a client certificate signed by the PKI's CA. */
    public static Mosquitto startTlsRequiringClientCertificate(TestPki pki) {
        return start(config().tls(pki).requireCertificate());
    }

    /** A plain listener that accepts only {@code user} with {@code password}. */
    public static Mosquitto startWithPassword(String user, String password) {
        return start(config().user(user, password));
    }

    public static Mosquitto start(Config config) {
        Mosquitto broker;
        try {
            broker = new Mosquitto(config);
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare mosquitto: " + e, e);
        }
        broker.startProcess();
        return broker;
    }

    /** The address to connect to: "127.0.0.1" (or the IPv6 bind address). */
    public String host() {
        return config.bindAddress;
    }

    public int port() {
        return port;
    }

    public boolean isTls() {
        return config.pki != null;
    }

    /** Arguments for mosquitto_sub / mosquitto_pub to reach this broker as a trusted client. */
    public List<String> clientArgs() {
        List<String> args = new ArrayList<>();
        if (isTls()) {
            args.addAll(Arrays.asList("-h", "localhost", "-p", Integer.toString(port), "--cafile",
                    config.pki.caCert.getPath()));
            if (config.requireCertificate) {
                args.addAll(Arrays.asList("--cert", config.pki.clientCert.getPath(), "--key",
                        config.pki.clientKeyPkcs8.getPath()));
            }
        } else {
            args.addAll(Arrays.asList("-h", config.bindAddress, "-p", Integer.toString(port)));
        }
        if (!config.users.isEmpty()) {
            args.addAll(Arrays.asList("-u", config.users.get(0), "-P", config.users.get(1)));
        }
        return args;
    }

    /**
     * Freezes the broker with SIGSTOP: the kernel still completes TCP
     * handshakes into the listen backlog, but the broker reads and answers
     * nothing until {@link #resume()}.
     */
    public synchronized void freeze() {
        signal("-STOP");
        frozen = true;
    }

    /** Resumes a broker frozen by {@link #freeze()} (SIGCONT). */
    public synchronized void resume() {
        if (frozen) {
            signal("-CONT");
            frozen = false;
        }
    }

    private void signal(String signal) {
        if (process == null || !process.isAlive()) {
            throw new IllegalStateException("mosquitto is not running");
        }
        Processes.run(null, 5_000, "kill", signal, Long.toString(process.pid())).check();
    }

    /** Stops the broker (SIGTERM, then SIGKILL) and waits for it to exit. */
    public synchronized void stop() {
        if (frozen && process != null && process.isAlive()) {
            // A stopped process would not act on SIGTERM.
            resume();
        }
        frozen = false;
        ProcessGuard.stop(process, 5_000);
        process = null;
    }

    /** Kills the broker with SIGKILL: connections end without a goodbye. */
    public synchronized void kill() {
        frozen = false;
        ProcessGuard.kill(process);
        process = null;
    }

    /** Stops the broker if it runs and starts it again on the same port (sessions are lost). */
    public synchronized void restart() {
        stop();
        startProcess();
    }

    public synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** The broker's log so far (log_type all). */
    @Override
    public String log() {
        return logFile.exists() ? Processes.read(logFile) : "";
    }

    /** The log written since the broker was last (re)started. */
    public String logSinceStart() {
        String log = log();
        return log.length() >= logOffsetAtStart ? log.substring(logOffsetAtStart) : log;
    }

    /** Waits up to {@code timeoutMs} for {@code text} to appear in the log. */
    public boolean awaitLog(String text, long timeoutMs) {
        return Waits.until(timeoutMs, () -> log().contains(text));
    }

    /**
     * Waits until the log shows that {@code clientId} is subscribed to
     * {@code filter} (mosquitto logs "{@code <id> <qos> <filter>}" as it adds
     * a subscription) since the broker was last started; publishing
     * afterwards reaches the client.
     */
    @Override
    public boolean awaitSubscription(String clientId, String filter, long timeoutMs) {
        Pattern line = subscriptionLine(clientId, filter);
        return Waits.until(timeoutMs, () -> line.matcher(logSinceStart()).find());
    }

    /** The log line mosquitto writes as it adds the subscription of {@code clientId} to {@code filter}. */
    static Pattern subscriptionLine(String clientId, String filter) {
        return Pattern.compile("(?m)^\\d+: " + Pattern.quote(clientId) + " [0-2] " + Pattern.quote(filter) + "$");
    }

    /**
     * The TLS version a handshake of {@code openssl s_client} (restricted by
     * {@code versionFlags}, for example "-tls1_3") with this TLS broker
     * negotiates, such as "TLSv1.2"; null if the handshake fails.
     */
    public String opensslHandshake(String... versionFlags) {
        if (!isTls()) {
            throw new IllegalStateException("not a TLS broker: " + this);
        }
        List<String> command = new ArrayList<>(Arrays.asList("openssl", "s_client", "-connect",
                config.bindAddress + ":" + port, "-servername", "localhost", "-CAfile", config.pki.caCert.getPath()));
        if (config.requireCertificate) {
            command.addAll(Arrays.asList("-cert", config.pki.clientCert.getPath(), "-key",
                    config.pki.clientKeyPkcs8.getPath()));
        }
        command.addAll(Arrays.asList(versionFlags));
        String output = Processes.run(null, 15_000, new byte[0], command).output;
        Matcher negotiated = Pattern.compile("(?m)^New, (TLSv[0-9.]+), Cipher is").matcher(output);
        return negotiated.find() ? negotiated.group(1) : null;
    }

    /** Publishes one message with mosquitto_pub (waits until it has been sent). */
    public void mosquittoPub(String topic, String payload, int qos, boolean retain) {
        mosquittoPub(topic, payload.getBytes(StandardCharsets.UTF_8), qos, retain);
    }

    /** Publishes one binary message with mosquitto_pub (payload from stdin; empty means -n). */
    public void mosquittoPub(String topic, byte[] payload, int qos, boolean retain) {
        List<String> command = pubCommand(topic, qos, retain);
        if (payload.length == 0) {
            command.add("-n");
            Processes.run(null, 15_000, null, command).check();
        } else {
            command.add("-s");
            Processes.run(null, 15_000, payload, command).check();
        }
    }

    /** Publishes one message per line with {@code mosquitto_pub -l}, in order, on one connection. */
    public void mosquittoPubLines(String topic, int qos, List<String> lines) {
        List<String> command = pubCommand(topic, qos, false);
        command.add("-l");
        StringBuilder text = new StringBuilder();
        for (String line : lines) {
            text.append(line).append('\n');
        }
        Processes.run(null, 30_000, text.toString().getBytes(StandardCharsets.UTF_8), command).check();
    }

    /** Starts mosquitto_sub on {@code topic}; returns once the broker has acknowledged the subscription. */
    public MosquittoSub mosquittoSub(String topic, int qos) {
        return MosquittoSub.start(this, topic, qos);
    }

    private List<String> pubCommand(String topic, int qos, boolean retain) {
        List<String> command = new ArrayList<>();
        command.add("mosquitto_pub");
        command.addAll(clientArgs());
        command.addAll(Arrays.asList("-i", "etkmqtt-test-pub-" + System.nanoTime(), "-t", topic, "-q",
                Integer.toString(qos)));
        if (retain) {
            command.add("-r");
        }
        return command;
    }

    @Override
    public void close() {
        stop();
        Processes.deleteTree(dir);
    }

    @Override
    public String toString() {
        return "mosquitto on " + config.bindAddress + ":" + port + (isTls() ? " (TLS)" : "");
    }

    private void writeConfig() throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("listener " + port + " " + config.bindAddress);
        lines.add("log_dest stderr");
        lines.add("log_type all");
        lines.add("connection_messages true");
        lines.add("persistence false");
        // Tests publish bursts; the broker must not drop QoS 1/2 messages for a slow subscriber.
        lines.add("max_queued_messages 0");
        // As root, mosquitto would switch to user "mosquitto", who cannot read our temporary files.
        lines.add("user " + System.getProperty("user.name"));
        if (!config.allowZeroLengthClientId) {
            lines.add("allow_zero_length_clientid false");
        }
        if (config.pki != null) {
            lines.add("cafile " + config.pki.caCert.getPath());
            lines.add("certfile " + config.certFile.getPath());
            lines.add("keyfile " + config.pki.serverKey.getPath());
            if (config.requireCertificate) {
                lines.add("require_certificate true");
            }
            if (config.tlsVersion != null) {
                lines.add("tls_version " + config.tlsVersion);
            }
        }
        if (config.users.isEmpty()) {
            lines.add("allow_anonymous true");
        } else {
            File passwords = new File(dir, "passwords");
            for (int i = 0; i < config.users.size(); i += 2) {
                List<String> command = new ArrayList<>(Arrays.asList("mosquitto_passwd", "-b"));
                if (i == 0) {
                    command.add("-c");
                }
                command.addAll(Arrays.asList(passwords.getPath(), config.users.get(i), config.users.get(i + 1)));
                Processes.run(dir, 15_000, null, command).check();
            }
            lines.add("allow_anonymous false");
            lines.add("password_file " + passwords.getPath());
        }
        if (config.acl != null) {
            File acl = new File(dir, "acl");
            Files.write(acl.toPath(), config.acl.getBytes(StandardCharsets.UTF_8));
            lines.add("acl_file " + acl.getPath());
        }
        lines.addAll(config.extraLines);
        Files.write(confFile.toPath(), lines, StandardCharsets.UTF_8);
        if (config.maxTlsVersion != null) {
            Files.write(opensslConfFile().toPath(), Arrays.asList("openssl_conf = openssl_init",
                    "[openssl_init]", "ssl_conf = ssl_sect", "[ssl_sect]", "system_default = system_default_sect",
                    "[system_default_sect]", "MaxProtocol = " + config.maxTlsVersion), StandardCharsets.UTF_8);
        }
    }

    private File opensslConfFile() {
        return new File(dir, "openssl.cnf");
    }

    private synchronized void startProcess() {
        starts++;
        logOffsetAtStart = log().length();
        ProcessBuilder builder = new ProcessBuilder(BINARY, "-c", confFile.getPath()).directory(dir)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile));
        if (config.maxTlsVersion != null) {
            builder.environment().put("OPENSSL_CONF", opensslConfFile().getPath());
        }
        try {
            process = ProcessGuard.start(builder);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + BINARY + ": " + e, e);
        }
        long deadline = System.nanoTime() + START_TIMEOUT_MS * 1_000_000L;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                String log = log();
                ProcessGuard.forget(process);
                process = null;
                throw new IllegalStateException("mosquitto exited at start (start #" + starts + "), log:\n" + log);
            }
            if (Ports.accepts(config.bindAddress, port)) {
                return;
            }
            Waits.sleep(50);
        }
        stop();
        throw new IllegalStateException("mosquitto did not accept connections on " + config.bindAddress + ":"
                + port + " within " + START_TIMEOUT_MS + " ms, log:\n" + log());
    }
}
