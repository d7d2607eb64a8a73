package org.etkmqtt.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A running {@code mosquitto_sub} that collects what it receives.
 *
 * <p>It prints each message as {@code MSG <qos> <retain> <hex payload> <topic>}
 * ({@code -F}), so payloads of any bytes and the QoS and retain flag of each
 * delivery are seen. {@link #start} returns once the broker's log shows the
 * subscription, so a test can publish right away (mosquitto_sub's own
 * {@code -d} lines are block-buffered in a pipe and come too late).
 */
public final class MosquittoSub implements AutoCloseable {
    private static final long SUBSCRIBE_TIMEOUT_MS = 10_000;

    /** One message as mosquitto_sub received it. */
    public static final class Received {
        public final String topic;
        public final byte[] payload;
        public final int qos;
        public final boolean retained;

        Received(String topic, byte[] payload, int qos, boolean retained) {
            this.topic = topic;
            this.payload = payload;
            this.qos = qos;
            this.retained = retained;
        }

        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        /** "qos retain topic text", retain as 0 or 1 (mosquitto_sub's {@code %q %r %t %p}). */
        public String summary() {
            return qos + " " + (retained ? 1 : 0) + " " + topic + " " + text();
        }

        @Override
        public String toString() {
            return topic + " " + text() + " (qos " + qos + (retained ? ", retained" : "") + ")";
        }
    }

    private final Process process;
    private final List<String> output = new ArrayList<>();
    private final List<Received> received = new ArrayList<>();
    private boolean ended;

    private MosquittoSub(List<String> command, String clientId) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        process = ProcessGuard.start(builder);
        process.getOutputStream().close();
        LineReader.start(process.getInputStream(), "mosquitto_sub-" + clientId, this::addLine, this::markEnded);
    }

    /** A broker whose log shows when a client's subscription is in place. */
    public interface SubscriptionLog {
        /** Waits until the log shows {@code clientId} subscribed to {@code filter}; true if in time. */
        boolean awaitSubscription(String clientId, String filter, long timeoutMs);

        /** The broker's log, for failure messages. */
        String log();
    }

    /** Subscribes to {@code topic} with {@code qos}; returns once the broker has the subscription. */
    public static MosquittoSub start(Mosquitto broker, String topic, int qos, String... extraArgs) {
        return start(broker, broker.clientArgs(), topic, qos, extraArgs);
    }

    /**
     * Subscribes with {@code connectionArgs} (host, port, credentials) to
     * {@code topic} with {@code qos}; returns once {@code broker} has the
     * subscription.
     */
    public static MosquittoSub start(SubscriptionLog broker, List<String> connectionArgs, String topic, int qos,
            String... extraArgs) {
        String clientId = "etkmqtt-test-sub-" + System.nanoTime();
        List<String> command = new ArrayList<>(Arrays.asList("mosquitto_sub"));
        command.addAll(connectionArgs);
        command.addAll(Arrays.asList("-i", clientId, "-t", topic, "-q", Integer.toString(qos), "-F",
                "MSG %q %r %x %t"));
        command.addAll(Arrays.asList(extraArgs));
        MosquittoSub sub;
        try {
            sub = new MosquittoSub(command, clientId);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start mosquitto_sub: " + e, e);
        }
        if (!broker.awaitSubscription(clientId, topic, SUBSCRIBE_TIMEOUT_MS)) {
            String out = sub.output();
            sub.close();
            throw new IllegalStateException("mosquitto_sub was not subscribed within " + SUBSCRIBE_TIMEOUT_MS
                    + " ms to " + broker + ":\n" + out + "\nbroker log:\n" + broker.log());
        }
        return sub;
    }

    /** Waits until at least {@code count} messages arrived; returns all received so far. */
    public List<Received> awaitMessages(int count, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        synchronized (this) {
            while (received.size() < count && !ended) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    break;
                }
                waitQuietly(left);
            }
            return new ArrayList<>(received);
        }
    }

    /** Payload texts received so far, in order. */
    public synchronized List<String> texts() {
        List<String> texts = new ArrayList<>();
        for (Received r : received) {
            texts.add(r.text());
        }
        return texts;
    }

    public synchronized List<Received> messages() {
        return new ArrayList<>(received);
    }

    /** Each message so far as its {@link Received#summary()}, in order. */
    public synchronized List<String> summaries() {
        List<String> summaries = new ArrayList<>();
        for (Received r : received) {
            summaries.add(r.summary());
        }
        return summaries;
    }

    /** Waits until at least {@code count} messages arrived; returns the {@link #summaries()} so far. */
    public List<String> awaitSummaries(int count, long timeoutMs) {
        awaitMessages(count, timeoutMs);
        return summaries();
    }

    /** Everything mosquitto_sub printed, for failure messages. */
    public synchronized String output() {
        return String.join("\n", output);
    }

    @Override
    public void close() {
        ProcessGuard.stop(process, 2_000);
    }

    private synchronized void addLine(String line) {
        output.add(line);
        if (line.startsWith("MSG ")) {
            received.add(parse(line));
        }
        notifyAll();
    }

    private synchronized void markEnded() {
        ended = true;
        notifyAll();
    }

    private static Received parse(String line) {
        // "MSG <qos> <retain> <hex> <topic>"; hex is empty for an empty payload.
        String[] parts = line.split(" ", 5);
        String hex = parts[3];
        byte[] payload = new byte[hex.length() / 2];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return new Received(parts[4], payload, Integer.parseInt(parts[1]), "1".equals(parts[2]));
    }

    private void waitQuietly(long ms) {
        try {
            wait(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
