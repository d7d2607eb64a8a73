package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.DataInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.Ports;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/**
 * TRANSPORT websocket and SASKEY through the Java API, against a real
 * Mosquitto: a WebSocket round trip, and the SharedAccessSignature of a
 * CONNECT checked with javax.crypto.Mac against Microsoft's documented
 * algorithm. (The Rust tests in rust/core/tests/cloud_transports.rs cover
 * proxies, ALPN, wss and every failure's words.)
 */
public class CloudTransportsTest extends ClientTestSupport {
    private static final String SAS_KEY = "q6xTYmYPz6u5ikqIV6BZZu8hGXbDXH39tJpJ6BmZ5tk=";

    @Test
    public void websocket_carries_publish_and_subscribe() throws Exception {
        int wsPort = Ports.freePort("127.0.0.1");
        Mosquitto broker = broker(Mosquitto.config()
                .line("listener " + wsPort + " 127.0.0.1")
                .line("protocol websockets"));
        assertTrue("no websocket listener:\n" + broker.log(), awaitListening(wsPort));
        TestClient client = newClient("127.0.0.1");
        client.options("TRANSPORT", "websocket", "PORT", Integer.toString(wsPort));
        String topic = topic();
        client.subscribe(topic, 1);
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), topic, 5_000));
        client.publish(new MqttMessage(topic, "over a WebSocket"), 1, false);
        assertTrue(client.describe(), client.awaitMessages(1, DELIVERY_MS));
        assertEquals(Collections.singletonList("over a WebSocket"), client.messageTexts());
        assertNull(client.getLastError());
    }

    @Test
    public void sas_token_matches_javax_crypto_mac() throws Exception {
        Mosquitto broker = plainBroker();
        Recorder recorder = closeLater(new Recorder(broker.port()));
        TestClient client = newClient("sas-java-1", "127.0.0.1");
        client.options("PORT", Integer.toString(recorder.port()), "SASKEY", SAS_KEY, "SASTTL", "600");
        long before = System.currentTimeMillis() / 1000;
        connectAndWait(client);
        long after = System.currentTimeMillis() / 1000;
        String[] login = recorder.first();
        assertEquals("127.0.0.1/sas-java-1/?api-version=2021-04-12", login[0]);

        String token = login[1];
        String resource = URLEncoder.encode("127.0.0.1/devices/sas-java-1", "UTF-8");
        String prefix = "SharedAccessSignature sr=" + resource + "&sig=";
        assertTrue(token, token.startsWith(prefix));
        int se = token.lastIndexOf("&se=");
        long expiry = Long.parseLong(token.substring(se + 4));
        assertTrue("expiry " + expiry + " is not SASTTL after the connect",
                expiry >= before + 600 && expiry <= after + 600);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(SAS_KEY), "HmacSHA256"));
        byte[] signature = mac.doFinal((resource + "\n" + expiry).getBytes(StandardCharsets.UTF_8));
        String expected = URLEncoder.encode(Base64.getEncoder().encodeToString(signature), "UTF-8");
        assertEquals(expected, token.substring(prefix.length(), se));
    }

    private static boolean awaitListening(int port) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (System.currentTimeMillis() < deadline) {
            if (Ports.accepts("127.0.0.1", port)) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }

    /**
     * A forwarding proxy to Mosquitto that records the user name and password
     * of each connection's CONNECT; every byte goes on unchanged.
     */
    private static final class Recorder implements AutoCloseable {
        private final ServerSocket server;
        private final List<String[]> logins = new ArrayList<String[]>();

        Recorder(final int upstream) throws Exception {
            server = new ServerSocket(0, 10, InetAddress.getByName("127.0.0.1"));
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        final Socket down = server.accept();
                        new Thread(() -> forward(down, upstream)).start();
                    }
                } catch (Exception closed) {
                    // The test is over.
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        String[] first() throws InterruptedException {
            long deadline = System.currentTimeMillis() + 10_000;
            synchronized (logins) {
                while (logins.isEmpty() && System.currentTimeMillis() < deadline) {
                    logins.wait(100);
                }
                assertTrue("no CONNECT recorded", !logins.isEmpty());
                return logins.get(0);
            }
        }

        private void forward(Socket down, int upstream) {
            try (Socket up = new Socket("127.0.0.1", upstream)) {
                DataInputStream in = new DataInputStream(down.getInputStream());
                int header = in.readUnsignedByte();
                int length = 0;
                int shift = 0;
                List<Integer> lengthBytes = new ArrayList<Integer>();
                while (true) {
                    int b = in.readUnsignedByte();
                    lengthBytes.add(b);
                    length |= (b & 0x7f) << shift;
                    shift += 7;
                    if ((b & 0x80) == 0) {
                        break;
                    }
                }
                byte[] body = new byte[length];
                in.readFully(body);
                record(body);
                OutputStream upOut = up.getOutputStream();
                upOut.write(header);
                for (int b : lengthBytes) {
                    upOut.write(b);
                }
                upOut.write(body);
                Thread pump = new Thread(() -> copy(in, upOut));
                pump.setDaemon(true);
                pump.start();
                copy(up.getInputStream(), down.getOutputStream());
            } catch (Exception ended) {
                // Either side closed.
            }
        }

        private void record(byte[] body) {
            int[] at = {0};
            readString(body, at); // "MQTT"
            int flags = body[at[0] + 1] & 0xff;
            at[0] += 4;
            readString(body, at); // client id
            if ((flags & 0x04) != 0) {
                readString(body, at);
                readString(body, at);
            }
            String user = (flags & 0x80) != 0 ? readString(body, at) : "";
            String password = (flags & 0x40) != 0 ? readString(body, at) : "";
            synchronized (logins) {
                logins.add(new String[] {user, password});
                logins.notifyAll();
            }
        }

        private static String readString(byte[] body, int[] at) {
            int len = ((body[at[0]] & 0xff) << 8) | (body[at[0] + 1] & 0xff);
            String text = new String(body, at[0] + 2, len, StandardCharsets.UTF_8);
            at[0] += 2 + len;
            return text;
        }

        private static void copy(InputStream from, OutputStream to) {
            byte[] buffer = new byte[8192];
            try {
                int n;
                while ((n = from.read(buffer)) > 0) {
                    to.write(buffer, 0, n);
                    to.flush();
                }
            } catch (Exception ended) {
                // Either side closed.
            }
        }

        @Override
        public void close() throws Exception {
            server.close();
        }
    }
}
