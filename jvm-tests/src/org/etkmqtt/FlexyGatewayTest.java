package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.LineReader;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.ProcessGuard;
import org.etkmqtt.harness.PskMosquitto;
import org.etkmqtt.harness.Waits;
import org.junit.Test;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The example gateway (examples/flexy-gateway, compiled for Java 1.4 by the
 * {@code compileExamples} task) end to end: it runs in a child JVM with
 * etkmqtt.jar for four 1-second cycles against a real Mosquitto over
 * TLS-PSK, a mosquitto_sub watches {@code /topic/flexy/<SERNUM>/#}, and one
 * command sets the setpoint. The published JSON is checked with Jackson.
 */
public class FlexyGatewayTest extends ClientTestSupport {
    private static final String[] TAG_NAMES = {"Temperature", "Pressure", "Running", "Setpoint", "Mode"};
    private static final int CYCLES = 4;
    private static final DateTimeFormatter FLEXY_TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");

    @Test
    public void gateway_publishes_tag_json_and_applies_a_setpoint_command() throws Exception {
        String serial = "T" + ProcessHandle.current().pid() + "x" + (System.nanoTime() % 100_000);
        String prefix = "/topic/flexy/" + serial;
        PskMosquitto broker = closeLater(PskMosquitto.start("", "gateway", "observer"));
        MosquittoSub sub = closeLater(broker.pskSub(broker.pskPort(), "observer", prefix + "/#", 1));

        long startedAt = System.currentTimeMillis();
        Gateway gateway = closeLater(Gateway.start("--host", broker.host(), "--port",
                Integer.toString(broker.pskPort()), "--psk", broker.keyOf("gateway"), "--identity", "gateway",
                "--sernum", serial, "--period", "1", "--cycles", Integer.toString(CYCLES)));

        // The gateway subscribes before it connects; mosquitto logs "<id> <qos> <filter>".
        assertTrue("gateway did not subscribe to its command topic; gateway output:\n" + gateway.output()
                + "\nbroker log:\n" + broker.log(),
                broker.awaitLog(serial + " 1 " + prefix + "/command", 20_000));
        assertTrue("no data message; gateway output:\n" + gateway.output() + "\nsub:\n" + sub.output(),
                Waits.until(20_000, () -> dataPayloads(sub).size() >= 1));

        int dataBeforeCommand = dataPayloads(sub).size();
        broker.pskPub(broker.pskPort(), "observer", prefix + "/command", "{\"tag\":\"Setpoint\",\"value\":42}", 1,
                false);

        int exit = gateway.waitFor(30_000);
        String output = gateway.output();
        assertEquals("gateway exit code; output:\n" + output, 0, exit);
        assertTrue("no applied command line in:\n" + output, output.contains("applied command Setpoint=42.0"));
        assertTrue("no done line in:\n" + output, output.contains("[gateway] done"));

        assertTrue("expected " + CYCLES + " data messages; sub:\n" + sub.output(),
                Waits.until(DELIVERY_MS, () -> dataPayloads(sub).size() >= CYCLES));
        long endedAt = System.currentTimeMillis();
        List<String> data = dataPayloads(sub);
        assertEquals("data messages: " + data, CYCLES, data.size());

        boolean setpointSeenAfterCommand = false;
        for (int i = 0; i < data.size(); i++) {
            JsonNode tags = TagJsonTest.assertValidTagJson(data.get(i), TAG_NAMES.length);
            for (int t = 0; t < TAG_NAMES.length; t++) {
                assertEquals(TAG_NAMES[t], tags.get(t).get("tag").textValue());
                assertTimeBetween(tags.get(t).get("time").textValue(), startedAt, endedAt);
            }
            assertTrue(data.get(i), tags.get(0).get("value").isNumber());
            assertTrue(data.get(i), tags.get(1).get("value").isNumber());
            assertTrue(data.get(i), tags.get(2).get("value").isBoolean());
            assertEquals(data.get(i), "auto", tags.get(4).get("value").textValue());
            JsonNode setpoint = tags.get(3).get("value");
            if (i < dataBeforeCommand) {
                assertEquals("before the command: " + data.get(i), 21.5, setpoint.doubleValue(), 0.0);
            } else if (setpoint.doubleValue() == 42.0) {
                assertTrue("42 is written without a fraction: " + data.get(i), setpoint.isIntegralNumber());
                assertTrue(data.get(i), data.get(i).contains("{\"tag\":\"Setpoint\",\"value\":42,"));
                setpointSeenAfterCommand = true;
            }
        }
        assertTrue("no data message after the command has Setpoint 42: " + data, setpointSeenAfterCommand);
        JsonNode last = TagJsonTest.JSON.readTree(data.get(data.size() - 1));
        assertEquals("last data message: " + data, 42.0, last.get(3).get("value").doubleValue(), 0.0);
        assertEquals("the applied setpoint moves the temperature up from 20", true,
                last.get(0).get("value").doubleValue() > 21.5);
    }

    /** Payloads on .../data, in order of arrival (the sub also sees the command). */
    private static List<String> dataPayloads(MosquittoSub sub) {
        List<String> payloads = new ArrayList<>();
        for (String message : sub.summaries()) {
            // "qos retain topic payload"
            String[] parts = message.split(" ", 4);
            if (parts.length == 4 && parts[2].endsWith("/data")) {
                payloads.add(parts[3]);
            }
        }
        return payloads;
    }

    /** The gateway writes UTC (no TAGTIMEOFFSET): the time lies within the run, to the second. */
    private static void assertTimeBetween(String time, long fromMillis, long toMillis) {
        long seconds = LocalDateTime.parse(time, FLEXY_TIME).toEpochSecond(ZoneOffset.UTC);
        assertTrue(time + " not within the run", seconds >= fromMillis / 1000 && seconds <= toMillis / 1000 + 1);
    }

    /** FlexyGateway in a child JVM with etkmqtt.jar and the example classes; stdout and stderr collected. */
    private static final class Gateway implements AutoCloseable {
        private final Process process;
        private final List<String> lines = new ArrayList<>();

        private Gateway(List<String> command) throws IOException {
            process = ProcessGuard.start(new ProcessBuilder(command).redirectErrorStream(true));
            process.getOutputStream().close();
            LineReader.start(process.getInputStream(), "flexy-gateway-output", this::addLine, this::markEnded);
        }

        static Gateway start(String... args) throws Exception {
            List<String> command = new ArrayList<>();
            command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
            command.add("-Xcheck:jni");
            // As in the tests: the loader extracts the library from the jar.
            command.add("-Djava.library.path=" + System.getProperty("java.library.path"));
            command.add("-cp");
            command.add(requiredJar() + File.pathSeparator + exampleClasses());
            command.add("FlexyGateway");
            command.addAll(Arrays.asList(args));
            return new Gateway(command);
        }

        private static String requiredJar() {
            String jar = System.getProperty("etkmqtt.jar");
            if (jar == null) {
                fail("system property etkmqtt.jar is not set (run through gradle test)");
            }
            return jar;
        }

        /** The directory of the compiled example (build/example-classes, on the test runtime class path). */
        private static String exampleClasses() throws Exception {
            Class<?> main;
            try {
                main = Class.forName("FlexyGateway");
            } catch (ClassNotFoundException e) {
                throw new AssertionError("FlexyGateway is not on the test class path: build.gradle puts "
                        + "build/example-classes (compileExamples) there", e);
            }
            return new File(main.getProtectionDomain().getCodeSource().getLocation().toURI()).getPath();
        }

        int waitFor(long timeoutMs) throws InterruptedException {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
                return -1;
            }
            // Let the reader take the last lines.
            Waits.until(2_000, this::ended);
            return process.exitValue();
        }

        synchronized String output() {
            return String.join("\n", lines);
        }

        private synchronized boolean ended() {
            return ended;
        }

        private boolean ended;

        private synchronized void addLine(String line) {
            lines.add(line);
        }

        private synchronized void markEnded() {
            ended = true;
        }

        @Override
        public void close() {
            ProcessGuard.stop(process, 5_000);
        }
    }
}
