import java.util.Arrays;
import org.etkmqtt.EWException;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;

/**
 * TLS-PSK against its peers, in one run on one broker (bench/run-psk starts
 * it): QoS 1 publish throughput through the Java API over TLS-PSK vs plain
 * TCP, and connect time (TCP + TLS handshake + CONNECT/CONNACK) over TLS-PSK
 * vs certificate TLS. Results are ratios measured in the same run.
 *
 * Arguments: host tcpPort pskPort certPort pskHex pskIdentity caFile messages
 */
public final class PskBench {
    static final class Client extends MqttClient {
        private final Object lock = new Object();

        Client(String id, String host) throws Exception {
            super(id, host);
        }

        public void callMqttEvent(int event) {
            synchronized (lock) {
                lock.notifyAll();
            }
        }

        void awaitConnected(long timeoutMillis) throws Exception {
            long deadline = System.currentTimeMillis() + timeoutMillis;
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
    }

    private final String host;
    private final int tcpPort;
    private final int pskPort;
    private final int certPort;
    private final String pskHex;
    private final String identity;
    private final String caFile;

    private PskBench(String[] args) {
        host = args[0];
        tcpPort = Integer.parseInt(args[1]);
        pskPort = Integer.parseInt(args[2]);
        certPort = Integer.parseInt(args[3]);
        pskHex = args[4];
        identity = args[5];
        caFile = args[6];
    }

    private Client newClient(String id, String transport) throws Exception {
        Client client = new Client(id, host);
        if (transport.equals("psk")) {
            client.setOption("PORT", Integer.toString(pskPort));
            client.setOption("PSK", pskHex);
            client.setOption("PSK-IDENTITY", identity);
        } else if (transport.equals("cert")) {
            client.setOption("PORT", Integer.toString(certPort));
            client.setOption("CAFILE", caFile);
        } else {
            client.setOption("PORT", Integer.toString(tcpPort));
        }
        return client;
    }

    /** Messages per second for QoS 1, 64-byte payloads, until all are acknowledged. */
    private double throughput(String transport, int messages) throws Exception {
        Client client = newClient("bench-" + transport, transport);
        try {
            client.connect();
            client.awaitConnected(10_000);
            MqttMessage message = new MqttMessage("bench/" + transport, new byte[64]);
            long start = System.nanoTime();
            for (int i = 0; i < messages; i++) {
                client.publish(message, 1, false);
            }
            long deadline = System.currentTimeMillis() + 120_000;
            while (client.getQueuedCount() > 0) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException(transport + ": " + client.getQueuedCount() + " never acknowledged");
                }
                Thread.sleep(1);
            }
            return messages / ((System.nanoTime() - start) / 1e9);
        } finally {
            client.close();
        }
    }

    /** Median milliseconds from connect() to status 5. */
    private double connectMillis(String transport, int rounds) throws Exception {
        double[] samples = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            Client client = newClient("bench-connect-" + transport + "-" + i, transport);
            try {
                long start = System.nanoTime();
                client.connect();
                client.awaitConnected(10_000);
                samples[i] = (System.nanoTime() - start) / 1e6;
            } finally {
                client.close();
            }
        }
        Arrays.sort(samples);
        return samples[rounds / 2];
    }

    public static void main(String[] args) throws Exception {
        PskBench bench = new PskBench(args);
        int messages = Integer.parseInt(args[7]);
        // Warm up the JIT and the broker once per transport.
        bench.throughput("tcp", messages / 10);
        bench.throughput("psk", messages / 10);
        double tcp = bench.throughput("tcp", messages);
        double psk = bench.throughput("psk", messages);
        double pskConnect = bench.connectMillis("psk", 50);
        double certConnect = bench.connectMillis("cert", 50);
        System.out.println();
        System.out.println("| measurement | value |");
        System.out.println("|---|---|");
        System.out.printf("| QoS 1 throughput, plain TCP (%d x 64 B) | %.0f msg/s |%n", messages, tcp);
        System.out.printf("| QoS 1 throughput, TLS-PSK (%d x 64 B) | %.0f msg/s |%n", messages, psk);
        System.out.printf("| TLS-PSK / plain TCP throughput | %.2f |%n", psk / tcp);
        System.out.printf("| connect to CONNACK, TLS-PSK (median of 50) | %.2f ms |%n", pskConnect);
        System.out.printf("| connect to CONNACK, certificate TLS (median of 50) | %.2f ms |%n", certConnect);
        System.out.printf("| TLS-PSK / certificate connect time | %.2f |%n", pskConnect / certConnect);
        if (psk / tcp < 0.75) {
            System.out.println("TLS-PSK throughput is more than 25% below plain TCP");
            System.exit(1);
        }
    }
}
