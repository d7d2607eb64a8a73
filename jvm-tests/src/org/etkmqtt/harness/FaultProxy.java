package org.etkmqtt.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy between a client and a real broker that injects faults: it
 * forwards every byte, and on request delays what the broker sends, cuts
 * every open connection, or changes the type of MQTT packets coming from the
 * broker (to act out a broker that breaks the protocol, such as one that
 * answers a QoS 2 PUBLISH with PUBACK). It is not a broker: every packet
 * comes from the broker behind it.
 */
public final class FaultProxy implements AutoCloseable {
    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final List<Socket> open = new ArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private volatile long delayToClientMs;
    /** MQTT packet type (high nibble of the first byte) to replace, and its replacement; -1: none. */
    private volatile int rewriteFrom = -1;
    private volatile int rewriteTo = -1;
    private final AtomicInteger rewritten = new AtomicInteger();
    private volatile boolean closed;

    private FaultProxy(String targetHost, int targetPort) throws IOException {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        Thread acceptor = new Thread(this::acceptLoop, "fault-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public static FaultProxy start(String targetHost, int targetPort) {
        try {
            return new FaultProxy(targetHost, targetPort);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the fault proxy: " + e, e);
        }
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Connections accepted so far. */
    public int connections() {
        return accepted.get();
    }

    /** Holds back everything the broker sends for {@code ms} (0: none). */
    public void delayToClient(long ms) {
        delayToClientMs = ms;
    }

    /** Gives broker packets of MQTT type {@code from} type {@code to} (e.g. 5 PUBREC to 4 PUBACK). */
    public void rewriteToClient(int from, int to) {
        rewriteTo = to;
        rewriteFrom = from;
    }

    /** Packets changed by {@link #rewriteToClient}. */
    public int rewritten() {
        return rewritten.get();
    }

    /** Closes every open connection at once (both sides). */
    public void cutAll() {
        List<Socket> sockets;
        synchronized (open) {
            sockets = new ArrayList<>(open);
            open.clear();
        }
        for (Socket socket : sockets) {
            closeQuietly(socket);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            try {
                Socket broker = new Socket(targetHost, targetPort);
                client.setTcpNoDelay(true);
                broker.setTcpNoDelay(true);
                synchronized (open) {
                    open.add(client);
                    open.add(broker);
                }
                pump("to-broker", client, broker, false);
                pump("to-client", broker, client, true);
            } catch (IOException e) {
                closeQuietly(client);
            }
        }
    }

    private void pump(String name, Socket from, Socket to, boolean toClient) throws IOException {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        LinkedBlockingQueue<Object[]> delayed = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            byte[] buffer = new byte[16 * 1024];
            MqttFramer framer = new MqttFramer();
            try {
                int n;
                while ((n = in.read(buffer)) > 0) {
                    byte[] chunk = Arrays.copyOf(buffer, n);
                    if (toClient && rewriteFrom >= 0) {
                        chunk = framer.rewrite(chunk, rewriteFrom, rewriteTo, rewritten);
                    }
                    delayed.put(new Object[] {System.nanoTime() + toClientDelayNanos(toClient), chunk});
                }
            } catch (IOException | InterruptedException e) {
                // the connection ended
            }
            delayed.add(new Object[] {0L, null});
        }, "fault-proxy-" + name + "-read");
        Thread writer = new Thread(() -> {
            try {
                while (true) {
                    Object[] item = delayed.poll(1, TimeUnit.HOURS);
                    if (item == null || item[1] == null) {
                        break;
                    }
                    long wait = (Long) item[0] - System.nanoTime();
                    if (wait > 0) {
                        // The injected delay itself, not a test waiting for something.
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    out.write((byte[]) item[1]);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // the connection ended
            }
            closeQuietly(from);
            closeQuietly(to);
        }, "fault-proxy-" + name + "-write");
        reader.setDaemon(true);
        writer.setDaemon(true);
        reader.start();
        writer.start();
    }

    private long toClientDelayNanos(boolean toClient) {
        return toClient ? TimeUnit.MILLISECONDS.toNanos(delayToClientMs) : 0;
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // already closed
        }
        cutAll();
    }

    /** Splits a byte stream into MQTT packets, so that a packet's type can be changed whole. */
    private static final class MqttFramer {
        private byte[] pending = new byte[0];

        byte[] rewrite(byte[] chunk, int from, int to, AtomicInteger count) {
            byte[] data = new byte[pending.length + chunk.length];
            System.arraycopy(pending, 0, data, 0, pending.length);
            System.arraycopy(chunk, 0, data, pending.length, chunk.length);
            int offset = 0;
            int complete = 0;
            while (offset < data.length) {
                int length = 0;
                int multiplier = 1;
                int index = offset + 1;
                boolean lengthKnown = false;
                while (index < data.length) {
                    int digit = data[index++] & 0xFF;
                    length += (digit & 0x7F) * multiplier;
                    multiplier *= 128;
                    if ((digit & 0x80) == 0) {
                        lengthKnown = true;
                        break;
                    }
                }
                if (!lengthKnown || index + length > data.length) {
                    break;
                }
                if (((data[offset] & 0xF0) >> 4) == from) {
                    // PUBACK, PUBREC and PUBCOMP carry flags 0; PUBREL carries 2.
                    data[offset] = (byte) ((to << 4) | (to == 6 ? 2 : 0));
                    count.incrementAndGet();
                }
                offset = index + length;
                complete = offset;
            }
            pending = Arrays.copyOfRange(data, complete, data.length);
            return Arrays.copyOf(data, complete);
        }
    }
}
