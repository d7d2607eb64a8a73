package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.Waits;
import org.junit.Test;

/**
 * close() gives back what a client took: 1 000 clients are created,
 * connected to a real Mosquitto and closed, in batches, and the process's
 * native threads (/proc/self/task) and resident memory come back to where
 * they started. There is no finalizer: only close() releases a client.
 */
public class ClientResourceHygieneTest {
    private static final int CLIENTS = 1000;
    private static final int BATCH = 50;
    private static final long RSS_MARGIN_KIB = 20 * 1024;
    private static final int THREAD_MARGIN = 2;

    static final class Client extends MqttClient {
        Client(String id, String host, int port) throws Exception {
            super(id, host);
            setOption("PORT", Integer.toString(port));
        }

        public void callMqttEvent(int event) {
        }
    }

    @Test(timeout = 120_000)
    public void closing_1000_connected_clients_returns_threads_and_memory() throws Exception {
        try (Mosquitto broker = Mosquitto.startPlain()) {
            // Load the library and warm up JNI, the allocator and the JIT before the baseline.
            runBatch(broker, "warmup", 10);
            settle();
            int threadsBefore = taskCount();
            long rssBefore = rssKiB();

            long start = System.nanoTime();
            int peakThreads = 0;
            for (int done = 0; done < CLIENTS; done += BATCH) {
                peakThreads = Math.max(peakThreads, runBatch(broker, "hygiene-" + done, BATCH));
            }
            long millis = (System.nanoTime() - start) / 1_000_000L;

            // The measurement sees the clients' threads: 2 per connected client.
            assertTrue("while " + BATCH + " clients were connected there were " + peakThreads
                    + " threads, baseline " + threadsBefore,
                    peakThreads >= threadsBefore + 2 * BATCH);

            settle();
            boolean threadsBack = Waits.until(5_000, () -> taskCount() <= threadsBefore + THREAD_MARGIN);
            int threadsAfter = taskCount();
            long rssAfter = rssKiB();
            String facts = CLIENTS + " clients in " + millis + " ms; threads " + threadsBefore + " -> "
                    + threadsAfter + " (peak " + peakThreads + "); RSS " + rssBefore + " KiB -> " + rssAfter
                    + " KiB";
            System.out.println(facts);
            assertTrue("threads back to the baseline +- " + THREAD_MARGIN + ": " + facts,
                    threadsBack && Math.abs(threadsAfter - threadsBefore) <= THREAD_MARGIN);
            assertTrue("RSS within " + RSS_MARGIN_KIB + " KiB of the baseline: " + facts,
                    rssAfter - rssBefore <= RSS_MARGIN_KIB);
        }
    }

    /** Creates and connects {@code count} clients, waits for all to connect, closes them; returns the peak thread count. */
    private static int runBatch(Mosquitto broker, String prefix, int count) throws Exception {
        List<Client> clients = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                Client client = new Client(prefix + "-" + i, broker.host(), broker.port());
                clients.add(client);
                client.connect();
            }
            for (Client client : clients) {
                assertTrue(client + " connected: " + client.getLastError(),
                        Waits.until(10_000, () -> statusOf(client) == MqttClient.STATUS_CONNECTED));
            }
            return taskCount();
        } finally {
            for (Client client : clients) {
                client.close();
            }
            for (Client client : clients) {
                assertEquals(MqttClient.STATUS_DISCONNECTED, client.getStatus());
            }
        }
    }

    private static int statusOf(MqttClient client) {
        try {
            return client.getStatus();
        } catch (EWException e) {
            return MqttClient.STATUS_UNKNOWN;
        }
    }

    private static void settle() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(200);
        }
    }

    private static int taskCount() {
        String[] tasks = new File("/proc/self/task").list();
        return tasks == null ? -1 : tasks.length;
    }

    private static long rssKiB() throws IOException {
        for (String line : Files.readAllLines(new File("/proc/self/status").toPath(), StandardCharsets.UTF_8)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }
}
