import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.etkmqtt.MqttClient;
import org.etkmqtt.TagJson;

/**
 * The durable store's cost on the medium: publishes COUNT tag-JSON readings
 * (QoS 1, two tags, as a gateway does) at RATE per second with STOREDIR and
 * the given STORESYNC, to a running broker, and reports the process's own
 * I/O counters (/proc/self/io) and the store directory's largest size. Run
 * by bench/store-io/run, which adds the store's system calls (strace) and,
 * as root, the bytes the file system wrote to its device.
 *
 * <pre>java -cp etkmqtt.jar:. StoreIoBench HOST PORT STOREDIR always|batch RATE COUNT</pre>
 */
public final class StoreIoBench {
    static final class Client extends MqttClient {
        Client(String id, String host) throws Exception {
            super(id, host);
        }

        public void callMqttEvent(int event) {
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        String port = args[1];
        File storeDir = new File(args[2]);
        String sync = args[3];
        double rate = Double.parseDouble(args[4]);
        int count = Integer.parseInt(args[5]);

        String serial = "storeio-" + ProcessHandle.current().pid();
        String topic = "/topic/flexy/" + serial + "/data";
        String[] names = {"Temperature", "Batch"};
        Client client = new Client(serial, host);
        client.setOption("PORT", port);
        client.setOption("STOREDIR", storeDir.getPath());
        client.setOption("STORESYNC", sync);
        client.connect();
        long deadline = System.currentTimeMillis() + 20_000;
        while (client.getStatus() != MqttClient.STATUS_CONNECTED) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("not connected: " + client.getLastError());
            }
            Thread.sleep(10);
        }

        long payloadBytes = 0;
        long maxStoreBytes = 0;
        long[] before = io();
        long started = System.nanoTime();
        long periodNanos = (long) (1_000_000_000L / rate);
        for (int i = 0; i < count; i++) {
            long due = started + i * periodNanos;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000L, (int) (wait % 1_000_000L));
            }
            Object[] values = {Double.valueOf(20 + (i % 100) / 10.0), "B-" + (1000 + i % 9000)};
            long now = System.currentTimeMillis();
            payloadBytes += TagJson.encode(names, values, now, 0).getBytes(StandardCharsets.UTF_8).length;
            client.publishTags(topic, names, values, now, 1, false);
            if (i % 10 == 0) {
                maxStoreBytes = Math.max(maxStoreBytes, bytesIn(storeDir));
            }
        }
        deadline = System.currentTimeMillis() + 30_000;
        while (client.getQueuedCount() > 0) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException(client.getQueuedCount() + " messages not acknowledged");
            }
            Thread.sleep(5);
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        long[] after = io();
        maxStoreBytes = Math.max(maxStoreBytes, bytesIn(storeDir));
        client.close();

        System.out.println("messages=" + count);
        System.out.println("seconds=" + String.format("%.2f", seconds));
        System.out.println("topic_bytes=" + topic.getBytes(StandardCharsets.UTF_8).length);
        System.out.println("payload_bytes_avg=" + String.format("%.1f", payloadBytes / (double) count));
        System.out.println("proc_wchar=" + (after[0] - before[0]));
        System.out.println("proc_syscw=" + (after[1] - before[1]));
        System.out.println("proc_write_bytes=" + (after[2] - before[2]));
        System.out.println("store_dir_max_bytes=" + maxStoreBytes);
    }

    /** wchar, syscw and write_bytes of /proc/self/io (all threads of this process). */
    private static long[] io() throws IOException {
        long[] values = new long[3];
        for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
            String[] parts = line.split(":\\s*");
            switch (parts[0]) {
                case "wchar" -> values[0] = Long.parseLong(parts[1]);
                case "syscw" -> values[1] = Long.parseLong(parts[1]);
                case "write_bytes" -> values[2] = Long.parseLong(parts[1]);
                default -> {
                }
            }
        }
        return values;
    }

    private static long bytesIn(File dir) throws IOException {
        if (!dir.exists()) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir.toPath())) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
