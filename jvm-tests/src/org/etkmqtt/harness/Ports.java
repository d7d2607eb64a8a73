package org.etkmqtt.harness;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** Loopback ports for brokers and fake servers. */
public final class Ports {
    private Ports() {
    }

    /** A port that was free on {@code address} a moment ago (bind to 0, read, close). */
    public static int freePort(String address) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(false);
            socket.bind(new InetSocketAddress(InetAddress.getByName(address), 0));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("cannot find a free port on " + address + ": " + e, e);
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
