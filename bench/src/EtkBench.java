import java.io.BufferedReader;
import java.io.FileReader;
import java.util.Arrays;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;

/**
 * etkmqtt through its Java API, for bench/run. The same measurements as the
 * C programs in bench/c (see bench_common.h for the broker environment
 * variables), in one JVM so the JIT is warm:
 *
 *   EtkBench throughput MESSAGES TRANSPORT:QOS:BYTES...  -> "throughput T Q B msg/s" lines
 *   EtkBench connect TRANSPORT ROUNDS                    -> median ms
 *   EtkBench latency TRANSPORT RATE MESSAGES             -> p50_us p99_us
 *   EtkBench idle-rss                                    -> rss_kib heap_kib
 *   EtkBench publish-call MESSAGES ROUNDS                -> median ns per publish()
 *
 * Completion as in C: publish() returns once queued (it blocks while the
 * queue is full); a run ends when getQueuedCount() is 0. Nothing outside the
 * engine helps it along (no wake-ups since the QoS 0 fix in 49c9a7b).
 */
public final class EtkBench {
    static final class Client extends MqttClient {
        private final Object lock = new Object();
        long[] latencyMicros;
        int received;

        Client(String id, String host) throws Exception {
            super(id, host);
        }

        public void callMqttEvent(int event) {
            try {
                if (event == MQTT_MESSAGE_EVENT) {
                    MqttMessage m;
                    while ((m = readMessage()) != null) {
                        arrived(m.getPayload());
                    }
                }
            } catch (Exception e) {
                // readMessage after close() throws; nothing is left to read.
            }
            synchronized (lock) {
                lock.notifyAll();
            }
        }

        private void arrived(byte[] p) {
            long now = System.nanoTime();
            if (latencyMicros == null || p.length < 12) {
                return;
            }
            long sent = 0;
            for (int i = 0; i < 8; i++) {
                sent = (sent << 8) | (p[i] & 0xff);
            }
            int seq = ((p[8] & 0xff) << 24) | ((p[9] & 0xff) << 16) | ((p[10] & 0xff) << 8) | (p[11] & 0xff);
            synchronized (lock) {
                if (seq >= 0 && seq < latencyMicros.length && latencyMicros[seq] < 0) {
                    latencyMicros[seq] = (now - sent) / 1000;
                    received++;
                    lock.notifyAll();
                }
            }
        }

        void awaitConnected() throws Exception {
            long deadline = System.currentTimeMillis() + 10000;
            synchronized (lock) {
                while (getStatus() != STATUS_CONNECTED) {
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0) {
                        throw new IllegalStateException("not connected: " + getLastError());
                    }
                    lock.wait(left);
                }
            }
        }

        void awaitReceived(int count) throws Exception {
            long deadline = System.currentTimeMillis() + 10000;
            synchronized (lock) {
                while (received < count) {
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0) {
                        throw new IllegalStateException("latency: only " + received + " of " + count + " came back");
                    }
                    lock.wait(left);
                }
            }
        }
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.length() == 0) {
            throw new IllegalArgumentException("missing environment variable " + name);
        }
        return value;
    }

    private static Client newClient(String id, String transport) throws Exception {
        Client client = new Client(id, env("BENCH_HOST"));
        client.setOption("MAXINFLIGHT", "20");
        if (transport.equals("psk")) {
            client.setOption("PORT", env("BENCH_PORT_PSK"));
            client.setOption("PSK", env("BENCH_PSK_KEY"));
            client.setOption("PSK-IDENTITY", env("BENCH_PSK_ID"));
        } else if (transport.equals("tls")) {
            client.setOption("PORT", env("BENCH_PORT_TLS"));
            client.setOption("CAFILE", env("BENCH_CAFILE"));
        } else if (transport.equals("tcp")) {
            client.setOption("PORT", env("BENCH_PORT_TCP"));
        } else {
            throw new IllegalArgumentException("transport " + transport);
        }
        return client;
    }

    private static double median(double[] values) {
        double[] sorted = (double[]) values.clone();
        Arrays.sort(sorted);
        return sorted[(sorted.length + 1) / 2 - 1];
    }

    /** Nearest-rank percentile, as in bench_common.h. */
    private static long percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(1, Math.min(rank, sorted.length)) - 1];
    }

    private static double throughput(String transport, int qos, int size, int messages) throws Exception {
        Client client = newClient("etk-java-" + transport + "-" + qos + "-" + size, transport);
        try {
            client.connect();
            client.awaitConnected();
            MqttMessage message = new MqttMessage("bench/etk-java", new byte[size]);
            long start = System.nanoTime();
            for (int i = 0; i < messages; i++) {
                client.publish(message, qos, false);
            }
            long deadline = System.currentTimeMillis() + 300000;
            while (client.getQueuedCount() > 0) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException(client.getQueuedCount() + " never acknowledged");
                }
                Thread.sleep(0, 100000);
            }
            return messages / ((System.nanoTime() - start) / 1e9);
        } finally {
            client.close();
        }
    }

    private static double connectMillis(String transport, int rounds) throws Exception {
        double[] samples = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            long start = System.nanoTime();
            Client client = newClient("etk-java-connect-" + transport + "-" + i, transport);
            try {
                client.connect();
                client.awaitConnected();
                samples[i] = (System.nanoTime() - start) / 1e6;
            } finally {
                client.close();
            }
        }
        return median(samples);
    }

    private static String latency(String transport, int rate, int messages) throws Exception {
        Client client = newClient("etk-java-latency-" + transport, transport);
        client.latencyMicros = new long[messages];
        Arrays.fill(client.latencyMicros, -1);
        try {
            client.connect();
            client.awaitConnected();
            String topic = "bench/latency/etk-java-" + transport;
            client.subscribe(topic, 1);
            Thread.sleep(200);
            long period = 1000000000L / rate;
            long start = System.nanoTime() + 10000000L;
            byte[] payload = new byte[64];
            for (int i = 0; i < messages; i++) {
                long due = start + period * i;
                long wait;
                while ((wait = due - System.nanoTime()) > 0) {
                    Thread.sleep(wait / 1000000, (int) (wait % 1000000));
                }
                long now = System.nanoTime();
                for (int b = 0; b < 8; b++) {
                    payload[b] = (byte) (now >>> (56 - 8 * b));
                }
                payload[8] = (byte) (i >>> 24);
                payload[9] = (byte) (i >>> 16);
                payload[10] = (byte) (i >>> 8);
                payload[11] = (byte) i;
                client.publish(new MqttMessage(topic, (byte[]) payload.clone()), 1, false);
            }
            client.awaitReceived(messages);
            long[] sorted = (long[]) client.latencyMicros.clone();
            Arrays.sort(sorted);
            return percentile(sorted, 0.50) + " " + percentile(sorted, 0.99);
        } finally {
            client.close();
        }
    }

    private static long vmRssKib() throws Exception {
        BufferedReader reader = new BufferedReader(new FileReader("/proc/self/status"));
        try {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
                }
            }
        } finally {
            reader.close();
        }
        return -1;
    }

    private static long usedHeap() {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return runtime.totalMemory() - runtime.freeMemory();
    }

    private static String idleRss() throws Exception {
        long heapBefore = usedHeap();
        long before = vmRssKib();
        Client client = newClient("etk-java-idle", "tcp");
        try {
            client.connect();
            client.awaitConnected();
            Thread.sleep(2000);
            long heapAfter = usedHeap();
            long after = vmRssKib();
            return (after - before) + " " + (heapAfter - heapBefore) / 1024;
        } finally {
            client.close();
        }
    }

    /** publish() into a never-connected client: argument checks, JNI, enqueue. */
    private static double publishCall(int messages, int rounds) throws Exception {
        MqttMessage message = new MqttMessage("bench/publish-call", new byte[64]);
        double[] samples = new double[rounds];
        for (int r = -rounds; r < rounds; r++) { // the first half warms up the JIT
            Client client = new Client("etk-java-publish-call", "127.0.0.1");
            try {
                client.setOption("MAXINFLIGHT", "65535");
                long start = System.nanoTime();
                for (int i = 0; i < messages; i++) {
                    client.publish(message, 1, false);
                }
                if (r >= 0) {
                    samples[r] = (double) (System.nanoTime() - start) / messages;
                }
            } finally {
                client.close();
            }
        }
        return median(samples);
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        if (mode.equals("throughput")) {
            int messages = Integer.parseInt(args[1]);
            // Warm up the JIT and the broker.
            throughput("tcp", 1, 64, Math.max(1000, messages / 10));
            throughput("tcp", 0, 64, Math.max(1000, messages / 10));
            for (int i = 2; i < args.length; i++) {
                String[] c = args[i].split(":");
                double value = throughput(c[0], Integer.parseInt(c[1]), Integer.parseInt(c[2]), messages);
                System.out.println("throughput " + c[0] + " " + c[1] + " " + c[2] + " " + Math.round(value));
            }
        } else if (mode.equals("connect")) {
            connectMillis(args[1], 5); // warm-up
            System.out.println(String.format("%.2f", new Object[] {new Double(connectMillis(args[1], Integer.parseInt(args[2])))}));
        } else if (mode.equals("latency")) {
            System.out.println(latency(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3])));
        } else if (mode.equals("idle-rss")) {
            System.out.println(idleRss());
        } else if (mode.equals("publish-call")) {
            System.out.println(String.format("%.1f", new Object[] {new Double(publishCall(Integer.parseInt(args[1]), Integer.parseInt(args[2])))}));
        } else {
            throw new IllegalArgumentException("unknown mode " + mode);
        }
        System.exit(0);
    }
}
