package org.etkmqtt.harness;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.HashSet;
import java.util.Set;

/** Loopback ports for brokers and fake servers. */
public final class Ports {
    private Ports() {
    }

    private static final Set<Integer> HANDED_OUT = new HashSet<>();

    /**
     * A port that was free on {@code address} a moment ago (bind to 0, read,
     * close) and that this JVM has not handed out before: the kernel may give
     * a port that was just closed to the next bind, and two listeners of one
     * broker must not get the same one.
     */
    public static synchronized int freePort(String address) {
        while (true) {
            int port;
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(false);
                socket.bind(new InetSocketAddress(InetAddress.getByName(address), 0));
                port = socket.getLocalPort();
            } catch (IOException e) {
                throw new IllegalStateException("cannot find a free port on " + address + ": " + e, e);
            }
            if (HANDED_OUT.add(port)) {
                return port;
            }
        }
    }

    /** True when something accepts TCP connections on {@code address:port}. */
    public static boolean accepts(String address, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getByName(address), port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
