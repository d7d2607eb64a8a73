package org.etkmqtt.harness;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * A scripted MQTT server on 127.0.0.1 for what a real broker cannot be made to
 * do: never answer (connect timeouts), answer CONNECT with any CONNACK return
 * code, show the exact CONNECT packet a client sent, or speak only chosen TLS
 * versions. After CONNACK it answers PINGREQ, and SUBSCRIBE with a SUBACK
 * that grants each filter the QoS asked for, or refuses it (0x80) if it was
 * named in {@link #refuseSubscriptions}.
 */
public final class FakeBroker implements AutoCloseable {
    /** Return code for a CONNACK that accepts the connection. */
    public static final int ACCEPT = 0;
    /** No answer at all: the TCP connection is accepted and never read. */
    private static final int SILENT = -1;

    /** A CONNECT packet as the client sent it. */
    public static final class ConnectPacket {
        public String protocolName;
        public int protocolLevel;
        public int flags;
        public int keepAliveSeconds;
        public String clientId;
        public String willTopic;
        public byte[] willPayload;
        public String username;
        public byte[] password;

        public boolean cleanSession() {
            return (flags & 0x02) != 0;
        }

        public boolean willFlag() {
            return (flags & 0x04) != 0;
        }

        public int willQos() {
            return (flags >> 3) & 0x03;
        }

        public boolean willRetain() {
            return (flags & 0x20) != 0;
        }

        @Override
        public String toString() {
            return "CONNECT[" + protocolName + " level " + protocolLevel + ", flags 0x" + Integer.toHexString(flags)
                    + ", keepalive " + keepAliveSeconds + ", id " + clientId + ", will " + willTopic + ", user "
                    + username + "]";
        }
    }

    private final ServerSocket server;
    private final int connackCode;
    private final List<Socket> sockets = new ArrayList<>();
    private final List<ConnectPacket> connects = new ArrayList<>();
    private final List<String> tlsProtocols = new ArrayList<>();
    private final List<Throwable> failures = new ArrayList<>();
    private final List<String> refusedFilters = new ArrayList<>();
    private final List<String> subscribedFilters = new ArrayList<>();
    private int accepted;
    private volatile boolean closed;

    private FakeBroker(ServerSocket server, int connackCode) {
        this.server = server;
        this.connackCode = connackCode;
        Thread acceptor = new Thread(this::acceptLoop, "fake-broker-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Accepts TCP connections and never reads or answers. */
    public static FakeBroker silent() {
        return new FakeBroker(plainSocket(), SILENT);
    }

    /** Reads CONNECT and answers CONNACK with {@code returnCode} (0 accepts). */
    public static FakeBroker answering(int returnCode) {
        return new FakeBroker(plainSocket(), returnCode);
    }

    /**
     * A TLS server with the PKI's server certificate that speaks only
     * {@code protocols} (for example "TLSv1.2"), then answers CONNACK 0.
     */
    public static FakeBroker tls(TestPki pki, String... protocols) {
        try {
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            try (InputStream in = new FileInputStream(pki.serverKeyStore)) {
                keyStore.load(in, TestPki.KEYSTORE_PASSWORD.toCharArray());
            }
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(keyStore, TestPki.KEYSTORE_PASSWORD.toCharArray());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keys.getKeyManagers(), null, null);
            SSLServerSocket socket = (SSLServerSocket) context.getServerSocketFactory().createServerSocket();
            socket.setEnabledProtocols(protocols);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return new FakeBroker(socket, ACCEPT);
        } catch (Exception e) {
            throw new IllegalStateException("cannot start a TLS fake broker: " + e, e);
        }
    }

    /** Answers SUBSCRIBE to these filters with the SUBACK failure code 0x80. */
    public synchronized FakeBroker refuseSubscriptions(String... filters) {
        refusedFilters.addAll(java.util.Arrays.asList(filters));
        return this;
    }

    /** Filters of all SUBSCRIBE packets received so far, in order. */
    public synchronized List<String> subscribedFilters() {
        return new ArrayList<>(subscribedFilters);
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return server.getLocalPort();
    }

    public synchronized int acceptedConnections() {
        return accepted;
    }

    /** Waits for the first CONNECT packet; null after {@code timeoutMs}. */
    public ConnectPacket awaitConnect(long timeoutMs) {
        Waits.until(timeoutMs, () -> connectCount() > 0);
        synchronized (this) {
            return connects.isEmpty() ? null : connects.get(0);
        }
    }

    public synchronized int connectCount() {
        return connects.size();
    }

    /** Waits for a completed TLS handshake; returns its protocol (e.g. "TLSv1.3"), or null. */
    public String awaitTlsProtocol(long timeoutMs) {
        Waits.until(timeoutMs, () -> {
            synchronized (this) {
                return !tlsProtocols.isEmpty();
            }
        });
        synchronized (this) {
            return tlsProtocols.isEmpty() ? null : tlsProtocols.get(0);
        }
    }

    /** Errors seen while serving connections (failed TLS handshakes, for example). */
    public synchronized List<Throwable> failures() {
        return new ArrayList<>(failures);
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        synchronized (this) {
            for (Socket socket : sockets) {
                try {
                    socket.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }
    }

    private static ServerSocket plainSocket() {
        try {
            ServerSocket socket = new ServerSocket();
            socket.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            return socket;
        } catch (IOException e) {
            throw new IllegalStateException("cannot open a loopback server socket: " + e, e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                return;
            }
            synchronized (this) {
                accepted++;
                sockets.add(socket);
            }
            if (connackCode == SILENT) {
                continue;
            }
            Thread serve = new Thread(() -> serve(socket), "fake-broker-conn-" + socket.getPort());
            serve.setDaemon(true);
            serve.start();
        }
    }

    private void serve(Socket socket) {
        try {
            socket.setSoTimeout(60_000);
            if (socket instanceof SSLSocket) {
                SSLSocket tls = (SSLSocket) socket;
                tls.startHandshake();
                synchronized (this) {
                    tlsProtocols.add(tls.getSession().getProtocol());
                }
            }
            DataInputStream in = new DataInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            int type = in.readUnsignedByte();
            byte[] body = readBody(in);
            if ((type & 0xF0) != 0x10) {
                throw new IOException("first packet is not CONNECT: type byte 0x" + Integer.toHexString(type));
            }
            ConnectPacket connect = parseConnect(body);
            synchronized (this) {
                connects.add(connect);
            }
            out.write(new byte[] {0x20, 0x02, 0x00, (byte) connackCode});
            out.flush();
            while (!closed) {
                type = in.readUnsignedByte();
                byte[] packet = readBody(in);
                if ((type & 0xF0) == 0xC0) {
                    out.write(new byte[] {(byte) 0xD0, 0x00});
                    out.flush();
                } else if ((type & 0xF0) == 0x80) {
                    out.write(subAck(packet));
                    out.flush();
                }
            }
        } catch (EOFException | SocketException e) {
            // the client went away
        } catch (IOException e) {
            synchronized (this) {
                failures.add(e);
            }
        } finally {
            try {
                socket.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    private byte[] subAck(byte[] subscribe) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(subscribe));
        int packetId = in.readUnsignedShort();
        List<Integer> codes = new ArrayList<>();
        while (in.available() > 0) {
            String filter = new String(readField(in), StandardCharsets.UTF_8);
            int qos = in.readUnsignedByte();
            synchronized (this) {
                subscribedFilters.add(filter);
                codes.add(refusedFilters.contains(filter) ? 0x80 : qos);
            }
        }
        byte[] reply = new byte[4 + codes.size()];
        reply[0] = (byte) 0x90;
        reply[1] = (byte) (2 + codes.size());
        reply[2] = (byte) (packetId >> 8);
        reply[3] = (byte) packetId;
        for (int i = 0; i < codes.size(); i++) {
            reply[4 + i] = (byte) (int) codes.get(i);
        }
        return reply;
    }

    private static byte[] readBody(DataInputStream in) throws IOException {
        int length = 0;
        int multiplier = 1;
        for (int i = 0; i < 4; i++) {
            int b = in.readUnsignedByte();
            length += (b & 0x7F) * multiplier;
            if ((b & 0x80) == 0) {
                byte[] body = new byte[length];
                in.readFully(body);
                return body;
            }
            multiplier *= 128;
        }
        throw new IOException("malformed remaining length");
    }

    private static ConnectPacket parseConnect(byte[] body) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(body));
        ConnectPacket packet = new ConnectPacket();
        packet.protocolName = new String(readField(in), StandardCharsets.UTF_8);
        packet.protocolLevel = in.readUnsignedByte();
        packet.flags = in.readUnsignedByte();
        packet.keepAliveSeconds = in.readUnsignedShort();
        packet.clientId = new String(readField(in), StandardCharsets.UTF_8);
        if (packet.willFlag()) {
            packet.willTopic = new String(readField(in), StandardCharsets.UTF_8);
            packet.willPayload = readField(in);
        }
        if ((packet.flags & 0x80) != 0) {
            packet.username = new String(readField(in), StandardCharsets.UTF_8);
        }
        if ((packet.flags & 0x40) != 0) {
            packet.password = readField(in);
        }
        return packet;
    }

    private static byte[] readField(DataInputStream in) throws IOException {
        int length = in.readUnsignedShort();
        byte[] field = new byte[length];
        in.readFully(field);
        return field;
    }
}
