package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;

import org.eclipse.tahu.message.SparkplugBPayloadEncoder;
import org.eclipse.tahu.message.model.Metric;
import org.eclipse.tahu.message.model.MetricDataType;
import org.eclipse.tahu.message.model.SparkplugBPayload;
import org.eclipse.tahu.protobuf.SparkplugBProto;
import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.SparkplugCapture;
import org.junit.Test;

/**
 * The example edge node (examples/sparkplug-node, compiled for Java 1.4 by
 * {@code compileExamples}) end to end in a child JVM against a real
 * Mosquitto: its NBIRTH and NDATA decoded by Eclipse Tahu, and a Setpoint
 * written with an NCMD that Tahu encoded.
 */
public class SparkplugExampleTest extends ClientTestSupport {
    @Test
    public void example_node_births_the_demo_tags_publishes_changes_and_applies_an_ncmd() throws Exception {
        Mosquitto broker = plainBroker();
        String group = "etk-example-" + ProcessHandle.current().pid();
        SparkplugCapture capture = closeLater(SparkplugCapture.start(broker, group));
        ChildJvm node = closeLater(ChildJvm.startMain("SparkplugGateway", classpath(), Arrays.asList("--host",
                broker.host(), "--port", Integer.toString(broker.port()), "--group", group, "--node", "flexy-1",
                "--period", "1", "--cycles", "6")));

        SparkplugCapture.Message nbirth = capture.awaitFirst(m -> m.type.equals("NBIRTH"), 30_000);
        assertNotNull("no NBIRTH; node output:\n" + node.describe(), nbirth);
        assertEquals(21.5, nbirth.metric("Setpoint").getDoubleValue(), 0.0);
        assertEquals(MetricDataType.Double.toIntValue(), nbirth.metric("Temperature").getDatatype());
        assertEquals(MetricDataType.Boolean.toIntValue(), nbirth.metric("Running").getDatatype());
        assertEquals("auto", nbirth.metric("Mode").getStringValue());
        assertEquals(0, nbirth.seq());
        assertNotNull("changes published:\n" + capture.describe(),
                capture.awaitFirst(m -> m.type.equals("NDATA"), 10_000));

        long setpoint = nbirth.metric("Setpoint").getAlias();
        SparkplugBPayload write = new SparkplugBPayload.SparkplugBPayloadBuilder().setTimestamp(new Date())
                .addMetric(new Metric.MetricBuilder(setpoint, MetricDataType.Double, Double.valueOf(42.0))
                        .createMetric())
                .createPayload();
        broker.mosquittoPub("spBv1.0/" + group + "/NCMD/flexy-1",
                new SparkplugBPayloadEncoder().getBytes(write, false), 0, false);
        assertTrue("the command was applied:\n" + node.describe(),
                node.awaitLine("[sparkplug] applied command Setpoint=42.0", 10_000));
        SparkplugCapture.Message changed = capture.awaitFirst(m -> m.type.equals("NDATA") && hasValue(m, setpoint,
                42.0), 10_000);
        assertNotNull("NDATA with the new setpoint:\n" + capture.describe(), changed);

        assertEquals("exits after its cycles:\n" + node.describe(), 0, node.waitFor(30_000));
        assertTrue(node.awaitLine("[sparkplug] done", 2_000));
        assertNotNull("NDEATH on close", capture.awaitFirst(m -> m.type.equals("NDEATH"), DELIVERY_MS));
        // What the node sent (the capture sees the NCMD too): seq 0, 1, 2, ... then NDEATH.
        List<SparkplugCapture.Message> sent = new ArrayList<>();
        for (SparkplugCapture.Message message : capture.messages()) {
            if (!message.type.equals("NCMD")) {
                sent.add(message);
            }
        }
        assertEquals("NDEATH", sent.get(sent.size() - 1).type);
        for (int i = 0; i < sent.size() - 1; i++) {
            assertEquals("seq without a gap: " + sent.get(i), i, sent.get(i).seq());
        }
    }

    private static boolean hasValue(SparkplugCapture.Message message, long alias, double value) {
        for (SparkplugBProto.Payload.Metric metric : message.payload.getMetricsList()) {
            if (metric.getAlias() == alias && metric.getDoubleValue() == value) {
                return true;
            }
        }
        return false;
    }

    /** etkmqtt.jar and build/example-classes, where compileExamples put SparkplugGateway. */
    private static String classpath() throws Exception {
        String jar = System.getProperty("etkmqtt.jar");
        if (jar == null) {
            fail("system property etkmqtt.jar is not set (run through gradle test)");
        }
        Class<?> main;
        try {
            main = Class.forName("SparkplugGateway");
        } catch (ClassNotFoundException e) {
            throw new AssertionError("SparkplugGateway is not on the test class path: build.gradle puts "
                    + "build/example-classes (compileExamples) there", e);
        }
        return jar + File.pathSeparator
                + new File(main.getProtectionDomain().getCodeSource().getLocation().toURI()).getPath();
    }
}
