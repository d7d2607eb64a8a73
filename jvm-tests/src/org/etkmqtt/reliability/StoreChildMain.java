package org.etkmqtt.reliability;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;
import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.TestClient;

/**
 * A client in its own JVM for the durable-store tests, so the test can kill
 * it with SIGKILL while messages wait in its STOREDIR.
 *
 * <p>Arguments: {@code host port clientId mode count topic [NAME=VALUE]...};
 * options are set with setOption. Modes:
 * <ul>
 * <li>{@code publish}: connect (the broker may be down), publish {@code count}
 * QoS 1 messages {@link Sequences#payload(int) numbered} 0..count-1 to
 * {@code topic}, print {@code PUBLISHED <count> queued=<n>}, then wait to be
 * killed (at most 120 s).</li>
 * <li>{@code drain}: connect, wait until connected and nothing is queued, print
 * {@code LASTERROR <text>} and {@code DRAINED queued=<n>}, close, exit 0.</li>
 * </ul>
 * Failures print {@code FAILED <why>} and exit 1.
 */
public final class StoreChildMain {
    private StoreChildMain() {
    }

    /**
     * Starts this class in a child JVM ({@link ChildJvm}):
     * {@code host port clientId mode count topic options...}.
     */
    public static ChildJvm start(String host, int port, String clientId, String mode, int count, String topic,
            String... options) {
        return ChildJvm.startMain(StoreChildMain.class, arguments(host, port, clientId, mode, count, topic, options));
    }

    /** {@link #start} with the file-creation mask {@code umask} ("000": nothing masked). */
    public static ChildJvm startWithUmask(String umask, String host, int port, String clientId, String mode,
            int count, String topic, String... options) {
        return ChildJvm.startMainWithUmask(umask, StoreChildMain.class,
                arguments(host, port, clientId, mode, count, topic, options));
    }

    private static List<String> arguments(String host, int port, String clientId, String mode, int count,
            String topic, String... options) {
        List<String> args = new ArrayList<>(Arrays.asList(host, Integer.toString(port), clientId, mode,
                Integer.toString(count), topic));
        args.addAll(Arrays.asList(options));
        return args;
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        String port = args[1];
        String clientId = args[2];
        String mode = args[3];
        int count = Integer.parseInt(args[4]);
        String topic = args[5];
        TestClient client = new TestClient(clientId, host);
        client.setOption("PORT", port);
        client.optionAssignments(args, 6);
        client.connect();
        if (mode.equals("publish")) {
            for (int i = 0; i < count; i++) {
                client.publish(new MqttMessage(topic, Sequences.payload(i)), 1, false);
            }
            System.out.println("PUBLISHED " + count + " queued=" + client.getQueuedCount());
            System.out.flush();
            Thread.sleep(120_000);
            System.out.println("NOT KILLED");
            System.exit(2);
        } else if (mode.equals("drain")) {
            long deadline = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < deadline
                    && (client.getStatus() != MqttClient.STATUS_CONNECTED || client.getQueuedCount() > 0)) {
                Thread.sleep(20);
            }
            int queued = client.getQueuedCount();
            System.out.println("LASTERROR " + client.getLastError());
            if (queued > 0) {
                System.out.println("FAILED still queued=" + queued + " " + client.describe());
                System.out.flush();
                System.exit(1);
            }
            System.out.println("DRAINED queued=" + queued);
            System.out.flush();
            client.close();
            System.exit(0);
        } else {
            System.out.println("FAILED unknown mode " + mode);
            System.exit(1);
        }
    }
}
