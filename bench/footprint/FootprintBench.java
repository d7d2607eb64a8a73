import java.io.BufferedReader;
import java.io.File;
import java.io.FileReader;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;

/**
 * etkmqtt's footprint on a desktop JVM, against a running broker:
 * Java heap allocated per publish, native memory (RSS) and threads of a
 * connected idle client. Run by bench/footprint/run, which adds the library size.
 *
 * <pre>java -cp etkmqtt.jar:. FootprintBench HOST PORT [publishes]</pre>
 */
public final class FootprintBench {
    private static final int PAYLOAD_BYTES = 64;
    private static final String TOPIC = "bench/footprint";

    static final class Client extends MqttClient {
        Client(String id, String host, int port) throws Exception {
            super(id, host);
            setOption("PORT", Integer.toString(port));
        }

        public void callMqttEvent(int event) {
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int publishes = args.length > 2 ? Integer.parseInt(args[2]) : 100_000;
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();

        // Load the library and warm up JNI once, so that neither counts below.
        Client warm = connected("footprint-warmup", host, port);
        warm.close();
        settle();

        // --- native memory and threads of connected idle clients ---
        long rss0 = rssKiB();
        int tasks0 = taskCount();
        Client one = connected("footprint-idle-0", host, port);
        Thread.sleep(1000);
        long rss1 = rssKiB();
        int tasks1 = taskCount();
        List<Client> more = new ArrayList<>();
        for (int i = 1; i < 10; i++) {
            more.add(connected("footprint-idle-" + i, host, port));
        }
        Thread.sleep(1000);
        long rss10 = rssKiB();
        int tasks10 = taskCount();
        for (Client c : more) {
            c.close();
        }

        // --- Java heap per publish, QoS 0, 64-byte payload, on the connected client ---
        byte[] shared = new byte[PAYLOAD_BYTES];
        MqttMessage reused = new MqttMessage(TOPIC, shared);
        for (int i = 0; i < 20_000; i++) { // JIT warm-up of both loops
            one.publish(reused, 0, false);
            one.publish(new MqttMessage(TOPIC, new byte[PAYLOAD_BYTES]), 0, false);
            pace(one, i);
        }
        waitDrained(one);

        // (a) the library's own allocation: the caller reuses one message.
        long before = threads.getThreadAllocatedBytes(self);
        for (int i = 0; i < publishes; i++) {
            one.publish(reused, 0, false);
            pace(one, i);
        }
        long libraryBytes = threads.getThreadAllocatedBytes(self) - before;
        waitDrained(one);

        // (b) the usual caller: a new message and payload array per publish.
        before = threads.getThreadAllocatedBytes(self);
        for (int i = 0; i < publishes; i++) {
            one.publish(new MqttMessage(TOPIC, new byte[PAYLOAD_BYTES]), 0, false);
            pace(one, i);
        }
        long totalBytes = threads.getThreadAllocatedBytes(self) - before;
        waitDrained(one);

        // (c) what the caller of (b) allocates by itself: the same loop without publish.
        MqttMessage sink = null;
        before = threads.getThreadAllocatedBytes(self);
        for (int i = 0; i < publishes; i++) {
            sink = new MqttMessage(TOPIC, new byte[PAYLOAD_BYTES]);
        }
        long callerBytes = threads.getThreadAllocatedBytes(self) - before;
        if (sink.getPayload().length != PAYLOAD_BYTES) {
            throw new IllegalStateException();
        }
        one.close();

        System.out.println("publishes=" + publishes);
        System.out.println("payload_bytes=" + PAYLOAD_BYTES);
        System.out.printf("heap_per_publish_reused_message=%.1f%n", (double) libraryBytes / publishes);
        System.out.printf("heap_per_publish_new_message=%.1f%n", (double) totalBytes / publishes);
        System.out.printf("heap_per_publish_caller_only=%.1f%n", (double) callerBytes / publishes);
        System.out.printf("heap_per_publish_new_minus_caller=%.1f%n",
                (double) (totalBytes - callerBytes) / publishes);
        System.out.println("rss_kib_before=" + rss0);
        System.out.println("rss_kib_delta_1_client=" + (rss1 - rss0));
        System.out.printf("rss_kib_delta_per_client_10=%.1f%n", (rss10 - rss0) / 10.0);
        System.out.println("threads_before=" + tasks0);
        System.out.println("threads_delta_1_client=" + (tasks1 - tasks0));
        System.out.printf("threads_delta_per_client_10=%.1f%n", (tasks10 - tasks0) / 10.0);
    }

    private static Client connected(String id, String host, int port) throws Exception {
        Client c = new Client(id, host, port);
        c.connect();
        long deadline = System.currentTimeMillis() + 10_000;
        while (c.getStatus() != MqttClient.STATUS_CONNECTED) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException(id + " did not connect: " + c.getLastError());
            }
            Thread.sleep(10);
        }
        return c;
    }

    /**
     * Every 256 publishes, lets the I/O thread empty the queue: a QoS 0
     * publish on a full queue (MAXINFLIGHT + 1000) is refused, not delayed.
     * getQueuedCount and Thread.yield allocate nothing on the Java heap.
     */
    private static void pace(MqttClient c, int i) throws Exception {
        if ((i & 255) == 255) {
            while (c.getQueuedCount() > 0) {
                Thread.yield();
            }
        }
    }

    private static void waitDrained(MqttClient c) throws Exception {
        while (c.getQueuedCount() > 0) {
            Thread.sleep(5);
        }
    }

    private static void settle() throws InterruptedException {
        System.gc();
        Thread.sleep(500);
    }

    static int taskCount() {
        String[] tasks = new File("/proc/self/task").list();
        return tasks == null ? -1 : tasks.length;
    }

    static long rssKiB() throws IOException {
        try (BufferedReader in = new BufferedReader(new FileReader("/proc/self/status"))) {
            for (String line; (line = in.readLine()) != null;) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        return -1;
    }
}
