import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import org.eclipse.tahu.message.SparkplugBPayloadDecoder;
import org.eclipse.tahu.message.model.MetricDataType;
import org.eclipse.tahu.model.MetricDataTypeMap;
import org.eclipse.tahu.protobuf.SparkplugBProto;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;
import org.etkmqtt.SparkplugNode;

/**
 * SparkplugNode on a desktop JVM against a running broker:
 * <ol>
 * <li>one NBIRTH and one historical NDATA (recorded before connecting) as
 * Eclipse Tahu prints them: the protobuf text of
 * {@code SparkplugBProto.Payload} and Tahu's decoded {@code SparkplugBPayload};</li>
 * <li>Java heap allocated per {@code publishNodeData} of 10 metrics, measured
 * like bench/footprint (ThreadMXBean.getThreadAllocatedBytes of the
 * publishing thread).</li>
 * </ol>
 * Run by bench/sparkplug/run.
 *
 * <pre>java -cp etkmqtt.jar:tahu-core.jar:protobuf-java.jar:slf4j-api.jar:. SparkplugBench HOST PORT [publishes]</pre>
 */
public final class SparkplugBench {
    private static final String GROUP = "Bench";
    private static final String[] NAMES = {"Line/Temperature", "Line/Pressure", "Line/Flow", "Line/Level",
        "Motor/Speed", "Motor/Current", "Motor/Running", "Valve/Open", "Counter/Total", "Status/Mode"};

    static final class Client extends MqttClient {
        private final List<MqttMessage> received = new ArrayList<>();

        Client(String id, String host, int port) throws Exception {
            super(id, host);
            setOption("PORT", Integer.toString(port));
        }

        public void callMqttEvent(int event) {
            if (event != MQTT_MESSAGE_EVENT) {
                return;
            }
            try {
                MqttMessage message = readMessage();
                synchronized (received) {
                    while (message.getTopic() != null) {
                        received.add(message);
                        message = readMessage();
                    }
                    received.notifyAll();
                }
            } catch (Exception e) {
                e.printStackTrace();
            }
        }

        MqttMessage await(String topicPart, int nth) throws InterruptedException {
            long deadline = System.currentTimeMillis() + 10_000;
            synchronized (received) {
                while (true) {
                    int seen = 0;
                    for (MqttMessage message : received) {
                        if (message.getTopic().contains(topicPart) && ++seen == nth) {
                            return message;
                        }
                    }
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0) {
                        throw new IllegalStateException("no " + topicPart + " #" + nth + " in " + received.size());
                    }
                    received.wait(left);
                }
            }
        }
    }

    private static Object[] values(int i) {
        return new Object[] {Double.valueOf(20.0 + i % 7), Double.valueOf(1.25), Double.valueOf(i * 0.5),
            Double.valueOf(3.75), Integer.valueOf(1450 + i % 50), Float.valueOf(2.5f), Boolean.TRUE,
            Boolean.valueOf(i % 2 == 0), Long.valueOf(1_000_000L + i), "auto"};
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int publishes = args.length > 2 ? Integer.parseInt(args[2]) : 100_000;
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();

        Client observer = new Client("sparkplug-bench-observer", host, port);
        observer.subscribe("spBv1.0/" + GROUP + "/#", 0);
        observer.connect();

        // --- samples: NBIRTH, and NDATA recorded before connect (history) ---
        Client sampleClient = new Client("sparkplug-bench-sample", host, port);
        SparkplugNode sample = new SparkplugNode(sampleClient, GROUP, "sample-node");
        sample.setNodeMetrics(NAMES, values(0));
        while (observer.getStatus() != MqttClient.STATUS_CONNECTED) {
            Thread.sleep(10);
        }
        // The observer's subscription is in place once its own message comes back.
        observer.publish(new MqttMessage("spBv1.0/" + GROUP + "/ping", "ping"), 1, false);
        observer.await("/ping", 1);
        sample.publishNodeData(new String[] {"Line/Temperature", "Motor/Speed", "Valve/Open"},
                new Object[] {Double.valueOf(21.5), Integer.valueOf(1480), Boolean.FALSE},
                System.currentTimeMillis() - 60_000);
        sampleClient.connect();
        MqttMessage nbirth = observer.await("/NBIRTH/sample-node", 1);
        MqttMessage history = observer.await("/NDATA/sample-node", 1);
        SparkplugBProto.Payload birthProto = SparkplugBProto.Payload.parseFrom(nbirth.getPayload());
        SparkplugBProto.Payload historyProto = SparkplugBProto.Payload.parseFrom(history.getPayload());
        MetricDataTypeMap types = new MetricDataTypeMap();
        for (SparkplugBProto.Payload.Metric metric : birthProto.getMetricsList()) {
            if (metric.hasAlias()) {
                types.addMetricDataType(metric.getAlias(), MetricDataType.fromInteger(metric.getDatatype()));
            }
        }
        SparkplugBPayloadDecoder decoder = new SparkplugBPayloadDecoder();
        System.out.println("=== NBIRTH " + nbirth.getTopic() + " (" + nbirth.getPayload().length + " bytes)");
        System.out.println("--- SparkplugBProto.Payload.parseFrom(payload):");
        System.out.print(birthProto);
        System.out.println("--- SparkplugBPayloadDecoder.buildFromByteArray(payload, null):");
        System.out.println(decoder.buildFromByteArray(nbirth.getPayload(), null));
        System.out.println("=== historical NDATA " + history.getTopic() + " (" + history.getPayload().length
                + " bytes)");
        System.out.println("--- SparkplugBProto.Payload.parseFrom(payload):");
        System.out.print(historyProto);
        System.out.println("--- SparkplugBPayloadDecoder.buildFromByteArray(payload, <types from the NBIRTH>):");
        System.out.println(decoder.buildFromByteArray(history.getPayload(), types));
        System.out.println("=== end of samples");
        sample.close();
        sampleClient.close();

        // --- Java heap per publishNodeData of 10 metrics, on a born node ---
        Client client = new Client("sparkplug-bench-node", host, port);
        SparkplugNode node = new SparkplugNode(client, GROUP, "bench-node");
        node.setNodeMetrics(NAMES, values(0));
        client.connect();
        observer.await("/NBIRTH/bench-node", 1);
        observer.unsubscribe("spBv1.0/" + GROUP + "/#");

        Object[] reused = values(1);
        for (int i = 0; i < 20_000; i++) { // JIT warm-up of both loops
            node.publishNodeData(NAMES, reused, 1_700_000_000_000L + i);
            node.publishNodeData(NAMES, values(i), 1_700_000_000_000L + i);
            pace(node, i);
        }
        drained(node);

        // (a) the library's own allocation: the caller reuses its arrays and values.
        long before = threads.getThreadAllocatedBytes(self);
        long started = System.nanoTime();
        for (int i = 0; i < publishes; i++) {
            node.publishNodeData(NAMES, reused, 1_700_000_000_000L + i);
            pace(node, i);
        }
        long libraryBytes = threads.getThreadAllocatedBytes(self) - before;
        double seconds = (System.nanoTime() - started) / 1e9;
        drained(node);

        // (b) the usual caller: new values (10 boxed objects and the array) each time.
        before = threads.getThreadAllocatedBytes(self);
        for (int i = 0; i < publishes; i++) {
            node.publishNodeData(NAMES, values(i), 1_700_000_000_000L + i);
            pace(node, i);
        }
        long totalBytes = threads.getThreadAllocatedBytes(self) - before;
        drained(node);

        // (c) what the caller of (b) allocates by itself.
        Object[] sink = null;
        before = threads.getThreadAllocatedBytes(self);
        for (int i = 0; i < publishes; i++) {
            sink = values(i);
        }
        long callerBytes = threads.getThreadAllocatedBytes(self) - before;
        if (sink.length != NAMES.length) {
            throw new IllegalStateException();
        }
        long dropped = node.getDroppedCount();
        node.close();
        client.close();
        observer.close();

        System.out.println("publishes=" + publishes);
        System.out.println("metrics_per_publish=" + NAMES.length);
        System.out.printf("heap_per_publish_reused_values=%.1f%n", (double) libraryBytes / publishes);
        System.out.printf("heap_per_publish_new_values=%.1f%n", (double) totalBytes / publishes);
        System.out.printf("heap_per_publish_caller_only=%.1f%n", (double) callerBytes / publishes);
        System.out.printf("heap_per_publish_new_minus_caller=%.1f%n",
                (double) (totalBytes - callerBytes) / publishes);
        System.out.printf("publishes_per_second_reused=%.0f%n", publishes / seconds);
        System.out.println("dropped=" + dropped);
    }

    /**
     * Every 256 publishes, lets the I/O thread send the queue (bounded at
     * 2 MiB without STOREDIR). getQueuedCount and Thread.yield allocate
     * nothing on the Java heap.
     */
    private static void pace(SparkplugNode node, int i) throws Exception {
        if ((i & 255) == 255) {
            while (node.getQueuedCount() > 0) {
                Thread.yield();
            }
        }
    }

    private static void drained(SparkplugNode node) throws Exception {
        while (node.getQueuedCount() > 0) {
            Thread.sleep(5);
        }
    }
}
