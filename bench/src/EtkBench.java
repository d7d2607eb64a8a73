import java.io.BufferedReader;
import java.io.File;
import java.io.FileReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;

/**
 * etkmqtt through its Java API, for bench/run: the same measurements as the
 * C programs in bench/c (broker from the environment variables of
 * bench_common.h).
 *
 * <pre>
 *   EtkBench serve                          commands on stdin, one JVM for all runs (JIT warm):
 *       warmup MESSAGES TRANSPORT,...         -> "warm"
 *       publish TRANSPORT QOS BYTES MESSAGES TOPIC [KEY=VALUE...]
 *                                             -> the key=value line of bench_common.h;
 *                                                then waits for one more line, and closes
 *       quit
 *   EtkBench connect TRANSPORT ROUNDS       -> median ms
 *   EtkBench latency TRANSPORT RATE MESSAGES -> p50_us p99_us
 *   EtkBench idle-rss                       -> rss_kib anon_kib file_kib heap_kib (first client of a fresh JVM)
 *   EtkBench memory MESSAGES                -> key=value lines: RSS per further client, heap per publish
 *                                              and per received message
 *   EtkBench publish-call MESSAGES ROUNDS   -> median ns per publish()
 * </pre>
 *
 * publish: as etk_bench.c. MAXINFLIGHT from inflight= (else the library's
 * default), STOREDIR/STORESYNC from store=/sync=, rate= paces. publish()
 * returns once queued; done_ns is when getQueuedCount() is 0, polled as in
 * etk_bench.c. threads= is the CPU of each thread over the run, from
 * /proc/self/task/TID/schedstat (ns), summed by comm name: etkmqtt-io-* and
 * etkmqtt-events* are the library's threads, "java" the thread that calls
 * publish() (the JVM names the main thread so; less bench_us, its CPU in the
 * benchmark's own pacing and waiting, as in bench_common.h), the others the
 * JVM's own (C1/C2 compiler, GC, VM thread...). cpu_us is their sum: the JVM reports
 * process CPU time only in 10 ms ticks (cpu_process_us,
 * OperatingSystemMXBean.getProcessCpuTime, and user_us/sys_us from
 * /proc/self/stat), too coarse for a short run; a thread that starts and
 * ends within the run would be missing from the sum, which cpu_process_us
 * shows.
 */
public final class EtkBench {
    static final class Client extends MqttClient {
        private final Object lock = new Object();
        long[] latencyMicros;
        int received;
        /** heap-per-receive: thread and allocation counters of the event thread. */
        volatile int countedMessages;
        volatile long allocAtStart = -1;
        volatile long allocAtEnd = -1;
        int allocStartAt = -1;
        int allocEndAt = -1;

        Client(String id, String host) throws Exception {
            super(id, host);
        }

        public void callMqttEvent(int event) {
            try {
                if (event == MQTT_MESSAGE_EVENT) {
                    // One event per message (the Flexy pattern): read one.
                    MqttMessage m = readMessage();
                    if (m.getTopic() != null) {
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
            // The counters first, then the count: awaitCounted() returns on
            // the count and then reads them.
            int n = countedMessages + 1;
            if (n == allocStartAt) {
                allocAtStart = threadAllocatedBytes();
            } else if (n == allocEndAt) {
                allocAtEnd = threadAllocatedBytes();
            }
            countedMessages = n;
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
            long deadline = System.currentTimeMillis() + 30000;
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

        void awaitCounted(int count) throws Exception {
            long deadline = System.currentTimeMillis() + 60000;
            synchronized (lock) {
                while (countedMessages < count) {
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0) {
                        throw new IllegalStateException("only " + countedMessages + " of " + count + " arrived");
                    }
                    lock.wait(left);
                }
            }
        }
    }

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /** The comm name the JVM gives the thread that runs main(), the caller here. */
    private static final String CALLER_THREAD = "java";

    static long threadAllocatedBytes() {
        return THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.length() == 0) {
            throw new IllegalArgumentException("missing environment variable " + name);
        }
        return value;
    }

    /** inflight 0: the library's default. */
    private static Client newClient(String id, String transport, int inflight) throws Exception {
        Client client = new Client(id, env("BENCH_HOST"));
        if (inflight > 0) {
            client.setOption("MAXINFLIGHT", Integer.toString(inflight));
        }
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

    /** The clients of the connect, latency and idle tests: in-flight 20. */
    private static Client newClient(String id, String transport) throws Exception {
        return newClient(id, transport, 20);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[(sorted.length + 1) / 2 - 1];
    }

    /** Nearest-rank percentile, as in bench_common.h. */
    private static long percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(1, Math.min(rank, sorted.length)) - 1];
    }

    // ---- publish runs --------------------------------------------------

    /** CPU ns of each thread, by tid, with its comm name. */
    private static Map<Integer, Object[]> threadCpu() {
        Map<Integer, Object[]> result = new HashMap<>();
        String[] tids = new File("/proc/self/task").list();
        if (tids == null) {
            return result;
        }
        for (String tid : tids) {
            try {
                String sched = new String(Files.readAllBytes(Paths.get("/proc/self/task", tid, "schedstat")),
                        StandardCharsets.US_ASCII);
                String comm = new String(Files.readAllBytes(Paths.get("/proc/self/task", tid, "comm")),
                        StandardCharsets.UTF_8).trim().replaceAll("[,:= ]", "_");
                result.put(Integer.valueOf(tid), new Object[] {comm, Long.valueOf(sched.trim().split(" ")[0])});
            } catch (IOException | RuntimeException e) {
                // The thread ended while we looked: it is not counted.
            }
        }
        return result;
    }

    /** "cpu_us=SUM threads=NAME:US,..." since `before`, less benchUs on this thread. */
    private static String threadCpuSince(Map<Integer, Object[]> before, long benchUs) {
        Map<String, Long> byName = new LinkedHashMap<>();
        long sum = -benchUs;
        byName.put(CALLER_THREAD, -benchUs);
        for (Map.Entry<Integer, Object[]> e : threadCpu().entrySet()) {
            String name = (String) e.getValue()[0];
            long ns = (Long) e.getValue()[1];
            Object[] old = before.get(e.getKey());
            if (old != null) {
                ns -= (Long) old[1];
            }
            byName.merge(name, ns / 1000, Long::sum);
            sum += ns / 1000;
        }
        StringBuilder out = new StringBuilder("cpu_us=" + sum + " threads=");
        boolean first = true;
        for (Map.Entry<String, Long> e : byName.entrySet()) {
            out.append(first ? "" : ",").append(e.getKey()).append(':').append(e.getValue());
            first = false;
        }
        return out.toString();
    }

    /** {utime, stime} in microseconds, from /proc/self/stat (10 ms ticks). */
    private static long[] userSysMicros() throws IOException {
        String stat = new String(Files.readAllBytes(Paths.get("/proc/self/stat")), StandardCharsets.US_ASCII);
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long tick = 10000; // CLK_TCK 100 on Linux
        return new long[] {Long.parseLong(f[11]) * tick, Long.parseLong(f[12]) * tick};
    }

    /** {wchar, write_bytes} of /proc/self/io. */
    private static long[] procIo() throws IOException {
        long[] io = {-1, -1};
        for (String line : Files.readAllLines(Paths.get("/proc/self/io"))) {
            if (line.startsWith("wchar:")) {
                io[0] = Long.parseLong(line.substring(6).trim());
            } else if (line.startsWith("write_bytes:")) {
                io[1] = Long.parseLong(line.substring(12).trim());
            }
        }
        return io;
    }

    /** One run of `publish ...`; returns the client, still connected. */
    private static Client publishRun(String[] c, BufferedReader in, boolean report) throws Exception {
        String transport = c[1];
        int qos = Integer.parseInt(c[2]);
        int size = Integer.parseInt(c[3]);
        int messages = Integer.parseInt(c[4]);
        String topic = c[5];
        int inflight = 0;
        double rate = 0;
        String storeDir = null;
        String storeSync = null;
        for (int i = 6; i < c.length; i++) {
            String[] kv = c[i].split("=", 2);
            if (kv[0].equals("inflight")) {
                inflight = Integer.parseInt(kv[1]);
            } else if (kv[0].equals("rate")) {
                rate = Double.parseDouble(kv[1]);
            } else if (kv[0].equals("store")) {
                storeDir = kv[1];
            } else if (kv[0].equals("sync")) {
                storeSync = kv[1];
            } else {
                throw new IllegalArgumentException("unknown publish setting " + c[i]);
            }
        }
        Client client = newClient("etk-java-" + ProcessHandle.current().pid() + "-" + System.nanoTime(), transport,
                inflight);
        if (storeDir != null) {
            client.setOption("STOREDIR", storeDir);
        }
        if (storeSync != null) {
            client.setOption("STORESYNC", storeSync);
        }
        client.connect();
        client.awaitConnected();
        MqttMessage message = new MqttMessage(topic, new byte[size]);
        Map<Integer, Object[]> threads0 = threadCpu();
        long[] io0 = procIo();
        long[] us0 = userSysMicros();
        long cpu0 = OS.getProcessCpuTime();
        long start = System.nanoTime();
        double period = rate > 0 ? 1e9 / rate : 0;
        // CPU of this thread in the benchmark's own pacing and waiting, left
        // out of cpu_us as in bench_common.h.
        long benchNs = 0;
        for (int i = 0; i < messages; i++) {
            if (period > 0) {
                long t0 = THREADS.getCurrentThreadCpuTime();
                long due = start + (long) (i * period);
                long wait;
                while ((wait = due - System.nanoTime()) > 0) {
                    LockSupport.parkNanos(wait);
                }
                benchNs += THREADS.getCurrentThreadCpuTime() - t0;
            }
            client.publish(message, qos, false);
        }
        long waitStarted = THREADS.getCurrentThreadCpuTime();
        // Polled as in etk_bench.c: 50 us while the count moves, backing off
        // to 5 ms while it does not.
        long deadline = System.nanoTime() + 300_000_000_000L;
        int left = client.getQueuedCount();
        long pause = 50_000;
        while (left > 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(left + " never acknowledged");
            }
            LockSupport.parkNanos(pause);
            int nowLeft = client.getQueuedCount();
            pause = nowLeft != left ? 50_000 : Math.min(pause * 2, 5_000_000);
            left = nowLeft;
        }
        long done = System.nanoTime();
        benchNs += THREADS.getCurrentThreadCpuTime() - waitStarted;
        long cpu = OS.getProcessCpuTime() - cpu0;
        long[] us = userSysMicros();
        long[] io = procIo();
        if (report) {
            System.out.println(String.format("own_rate=%.0f start_ns=%d done_ns=%d cpu_process_us=%d user_us=%d"
                    + " sys_us=%d bench_us=%d syncs=-1 wchar=%d write_bytes=%d %s", messages / ((done - start) / 1e9),
                    start, done, cpu / 1000, us[0] - us0[0], us[1] - us0[1], benchNs / 1000, io[0] - io0[0],
                    io[1] - io0[1], threadCpuSince(threads0, benchNs / 1000)));
            System.out.flush();
        }
        return client;
    }

    private static void serve() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] c = line.trim().split("\\s+");
            if (c[0].equals("quit")) {
                break;
            } else if (c[0].equals("warmup")) {
                // The JIT compiles the publish path before anything is measured.
                String n = c[1];
                for (String t : c[2].split(",")) {
                    for (String q : new String[] {"0", "1"}) {
                        publishRun(new String[] {"publish", t, q, "64", n, "bench/warmup"}, in, false).close();
                    }
                }
                // And the paced loop (parkNanos), so its compilation is not
                // counted in the first paced run.
                publishRun(new String[] {"publish", c[2].split(",")[0], "1", "64", "500", "bench/warmup",
                        "rate=1000"}, in, false).close();
                System.out.println("warm");
                System.out.flush();
            } else if (c[0].equals("publish")) {
                Client client = publishRun(c, in, true);
                in.readLine(); // the subscriber has counted: now disconnect
                client.close();
            } else {
                throw new IllegalArgumentException("unknown command " + c[0]);
            }
        }
    }

    // ---- connect, latency --------------------------------------------

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
            String topic = "bench/latency/etk-java-" + transport + "-" + ProcessHandle.current().pid();
            client.subscribe(topic, 1);
            Thread.sleep(200);
            long period = 1000000000L / rate;
            long start = System.nanoTime() + 10000000L;
            byte[] payload = new byte[64];
            for (int i = 0; i < messages; i++) {
                long due = start + period * i;
                long wait;
                while ((wait = due - System.nanoTime()) > 0) {
                    LockSupport.parkNanos(wait);
                }
                long now = System.nanoTime();
                for (int b = 0; b < 8; b++) {
                    payload[b] = (byte) (now >>> (56 - 8 * b));
                }
                payload[8] = (byte) (i >>> 24);
                payload[9] = (byte) (i >>> 16);
                payload[10] = (byte) (i >>> 8);
                payload[11] = (byte) i;
                client.publish(new MqttMessage(topic, payload.clone()), 1, false);
            }
            client.awaitReceived(messages);
            long[] sorted = client.latencyMicros.clone();
            Arrays.sort(sorted);
            return percentile(sorted, 0.50) + " " + percentile(sorted, 0.99);
        } finally {
            client.close();
        }
    }

    // ---- memory --------------------------------------------------------

    private static long statusKib(String key) throws IOException {
        try (BufferedReader reader = new BufferedReader(new FileReader("/proc/self/status"))) {
            for (String line; (line = reader.readLine()) != null;) {
                if (line.startsWith(key + ":")) {
                    return Long.parseLong(line.substring(key.length() + 1).trim().split("\\s+")[0]);
                }
            }
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

    /** The first client of a fresh JVM: includes loading the library. */
    private static String idleRss() throws Exception {
        long heapBefore = usedHeap();
        long rss = statusKib("VmRSS");
        long anon = statusKib("RssAnon");
        long file = statusKib("RssFile");
        Client client = newClient("etk-java-idle", "tcp");
        try {
            client.connect();
            client.awaitConnected();
            Thread.sleep(2000);
            long heapAfter = usedHeap();
            return (statusKib("VmRSS") - rss) + " " + (statusKib("RssAnon") - anon) + " "
                    + (statusKib("RssFile") - file) + " " + (heapAfter - heapBefore) / 1024;
        } finally {
            client.close();
        }
    }

    /** Waits until the queue is empty (publishes on a full queue are refused). */
    private static void drain(MqttClient c) throws Exception {
        while (c.getQueuedCount() > 0) {
            Thread.yield();
        }
    }

    /**
     * RSS of further clients once the library is loaded; Java heap allocated
     * on the publishing thread per publish, and on the event thread per
     * received message (one readMessage() per MQTT_MESSAGE_EVENT).
     */
    private static void memory(int messages) throws Exception {
        String topic = "bench/memory/" + ProcessHandle.current().pid();
        Client warm = newClient("etk-java-mem-warm", "tcp");
        warm.connect();
        warm.awaitConnected();
        warm.close();
        usedHeap();
        Thread.sleep(500);

        long rss0 = statusKib("VmRSS");
        long anon0 = statusKib("RssAnon");
        List<Client> idle = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Client c = newClient("etk-java-mem-idle-" + i, "tcp");
            c.connect();
            c.awaitConnected();
            idle.add(c);
        }
        Thread.sleep(1000);
        System.out.printf("rss_kib_per_further_client=%.1f%n", (statusKib("VmRSS") - rss0) / 10.0);
        System.out.printf("anon_kib_per_further_client=%.1f%n", (statusKib("RssAnon") - anon0) / 10.0);
        for (Client c : idle) {
            c.close();
        }

        // Heap per publish, QoS 0 and 1, 64 B, on a connected client.
        Client pub = newClient("etk-java-mem-pub", "tcp");
        pub.connect();
        pub.awaitConnected();
        byte[] payload = new byte[64];
        String nobody = topic + "/nobody";
        MqttMessage reused = new MqttMessage(nobody, payload);
        for (int qos = 0; qos <= 1; qos++) {
            for (int i = 0; i < 20000; i++) { // JIT warm-up of both loops
                pub.publish(reused, qos, false);
                pub.publish(new MqttMessage(nobody, new byte[64]), qos, false);
                if ((i & 255) == 255) {
                    drain(pub);
                }
            }
            drain(pub);
            long before = threadAllocatedBytes();
            for (int i = 0; i < messages; i++) {
                pub.publish(reused, qos, false);
                if ((i & 255) == 255) {
                    drain(pub);
                }
            }
            long reusedBytes = threadAllocatedBytes() - before;
            drain(pub);
            before = threadAllocatedBytes();
            for (int i = 0; i < messages; i++) {
                pub.publish(new MqttMessage(nobody, new byte[64]), qos, false);
                if ((i & 255) == 255) {
                    drain(pub);
                }
            }
            long newBytes = threadAllocatedBytes() - before;
            drain(pub);
            System.out.printf("heap_per_publish_reused_qos%d=%.1f%n", qos, (double) reusedBytes / messages);
            System.out.printf("heap_per_publish_new_qos%d=%.1f%n", qos, (double) newBytes / messages);
        }

        // Heap per received message, on the event thread of the subscriber.
        for (int qos = 0; qos <= 1; qos++) {
            Client sub = newClient("etk-java-mem-sub-" + qos, "tcp");
            sub.connect();
            sub.awaitConnected();
            String t = topic + "/rx" + qos;
            sub.subscribe(t, qos);
            Thread.sleep(300); // SUBACK; nothing measured depends on it
            int warmup = 20000;
            sub.allocStartAt = warmup;
            sub.allocEndAt = warmup + messages;
            MqttMessage m = new MqttMessage(t, payload);
            for (int i = 0; i < warmup + messages; i++) {
                pub.publish(m, qos, false);
                if ((i & 255) == 255) {
                    drain(pub);
                }
            }
            sub.awaitCounted(warmup + messages);
            if (sub.allocAtStart < 0 || sub.allocAtEnd < 0) {
                throw new IllegalStateException("heap counters not read");
            }
            System.out.printf("heap_per_receive_qos%d=%.1f%n", qos,
                    (double) (sub.allocAtEnd - sub.allocAtStart) / messages);
            sub.close();
        }
        pub.close();

        // What a received message must be on the heap: the MqttMessage, its
        // topic String and its payload array, made the same way in Java.
        byte[] topicBytes = (topic + "/rx0").getBytes(StandardCharsets.UTF_8);
        MqttMessage sink = null;
        for (int i = 0; i < 20000; i++) {
            sink = new MqttMessage(new String(topicBytes, StandardCharsets.UTF_8), new byte[64]);
        }
        long before = threadAllocatedBytes();
        for (int i = 0; i < messages; i++) {
            sink = new MqttMessage(new String(topicBytes, StandardCharsets.UTF_8), new byte[64]);
        }
        long objects = threadAllocatedBytes() - before;
        if (sink.getPayload().length != 64) {
            throw new IllegalStateException();
        }
        System.out.printf("heap_message_objects=%.1f%n", (double) objects / messages);
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
        if (mode.equals("serve")) {
            serve();
        } else if (mode.equals("connect")) {
            connectMillis(args[1], 5); // warm-up
            System.out.println(String.format("%.2f", connectMillis(args[1], Integer.parseInt(args[2]))));
        } else if (mode.equals("latency")) {
            System.out.println(latency(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3])));
        } else if (mode.equals("idle-rss")) {
            System.out.println(idleRss());
        } else if (mode.equals("memory")) {
            memory(Integer.parseInt(args[1]));
        } else if (mode.equals("publish-call")) {
            System.out.println(String.format("%.1f", publishCall(Integer.parseInt(args[1]), Integer.parseInt(args[2]))));
        } else {
            throw new IllegalArgumentException("unknown mode " + mode);
        }
        System.exit(0);
    }
}
