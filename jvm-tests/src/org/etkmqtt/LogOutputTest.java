package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;

import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.junit.Test;

/**
 * Where LOG output goes (docs/flexy-deploy.md, "Where the output goes"): the
 * native library writes its LOG lines to the process's standard error,
 * file descriptor 2, not through Java's System.err, so an application that
 * redirects System.err (as a logging setup on the gateway might) does not
 * capture them, while its own System.err lines do move.
 */
public class LogOutputTest extends ClientTestSupport {
    /** Child JVM main: ARGS host port file; redirects System.err to file, connects with LOG 3, closes. */
    public static final class RedirectedStderr {
        public static void main(String[] args) throws Exception {
            PrintStream file = new PrintStream(new FileOutputStream(args[2]), true, "UTF-8");
            System.setErr(file);
            System.err.println("java System.err line");
            MqttClient client = new MqttClient("log-fd2", args[0]) {
                public void callMqttEvent(int event) {
                }
            };
            client.setOption("PORT", args[1]);
            client.setOption("LOG", "3");
            client.connect();
            long deadline = System.currentTimeMillis() + 20_000;
            while (client.getStatus() != MqttClient.STATUS_CONNECTED && System.currentTimeMillis() < deadline) {
                Thread.sleep(10);
            }
            System.out.println("status " + client.getStatus());
            client.close();
            file.close();
        }
    }

    @Test
    public void log_lines_go_to_file_descriptor_2_not_to_system_err() throws Exception {
        Mosquitto broker = closeLater(Mosquitto.startPlain());
        File redirected = File.createTempFile("etkmqtt-system-err-", ".txt");
        redirected.deleteOnExit();
        ChildJvm child = closeLater(ChildJvm.startMain(RedirectedStderr.class,
                Arrays.asList(broker.host(), Integer.toString(broker.port()), redirected.getPath())));
        assertEquals(child.describe(), 0, child.waitFor(30_000));
        assertTrue(child.describe(), child.stdout().contains("status 5"));

        String systemErr = new String(Files.readAllBytes(redirected.toPath()), StandardCharsets.UTF_8);
        assertTrue("the application's own System.err moved to the file: " + systemErr,
                systemErr.contains("java System.err line"));
        assertFalse("no LOG line went through System.err: " + systemErr, systemErr.contains("etkmqtt[log-fd2]"));
        assertTrue("LOG lines are on the process's stderr:\n" + child.stderr(),
                child.stderr().contains("etkmqtt[log-fd2]"));
    }
}
