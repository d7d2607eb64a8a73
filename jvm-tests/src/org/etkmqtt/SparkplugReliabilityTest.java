package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.eclipse.tahu.protobuf.SparkplugBProto;
import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.SparkplugCapture;
import org.etkmqtt.harness.SparkplugChildMain;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.Waits;
import org.etkmqtt.reliability.BrokerProcess;
import org.junit.Test;

/**
 * SparkplugNode when things fail, against a real Mosquitto, payloads decoded
 * by Eclipse Tahu: kill -9 of the node's JVM (the broker publishes NDEATH
 * from the will), a new JVM on the same STOREDIR (a new bdSeq), and the
 * broker down while readings keep coming (history after the new births).
 */
public class SparkplugReliabilityTest extends ClientTestSupport {
    private String group() {
        return "etk-" + testName.getMethodName().hashCode() + "-" + ProcessHandle.current().pid();
    }

    private Path storeDir() throws Exception {
        Path dir = BrokerProcess.tempDir("etkmqtt-sparkplug-store-");
        closeLater(BrokerProcess.deleting(dir));
        return dir;
    }

    private static long bdSeqOf(ChildJvm child) {
        String line = child.awaitLineStartingWith("CONNECTED bdSeq=", 30_000);
        assertNotNull("child connected:\n" + child.describe(), line);
        return Long.parseLong(line.substring("CONNECTED bdSeq=".length()));
    }

    @Test
    public void kill_9_of_the_node_jvm_publishes_ndeath_with_the_births_bdseq_and_the_next_jvm_births_with_a_new_one()
            throws Exception {
        Mosquitto broker = plainBroker();
        String group = group();
        SparkplugCapture capture = closeLater(SparkplugCapture.start(broker, group));
        String id = clientId();
        String store = "STOREDIR=" + storeDir();

        ChildJvm first = closeLater(SparkplugChildMain.start(broker.host(), broker.port(), id, group, "edge", store));
        long firstBdSeq = bdSeqOf(first);
        SparkplugCapture.Message nbirth = capture.awaitType("NBIRTH", 1, DELIVERY_MS).get(0);
        assertEquals("NBIRTH carries the will's bdSeq", firstBdSeq, nbirth.bdSeq());
        first.kill();
        List<SparkplugCapture.Message> deaths = capture.awaitType("NDEATH", 1, DELIVERY_MS);
        assertEquals("the broker published the will:\n" + capture.describe() + broker.log(), 1, deaths.size());
        SparkplugCapture.Message ndeath = deaths.get(0);
        assertEquals("spBv1.0/" + group + "/NDEATH/edge", ndeath.topic);
        assertEquals("NDEATH matches the NBIRTH", nbirth.bdSeq(), ndeath.bdSeq());
        assertEquals("the will is QoS 1", 1, ndeath.qos);
        assertFalse("the will is not retained", ndeath.retained);
        assertFalse("NDEATH has no seq", ndeath.payload.hasSeq());
        assertEquals("only bdSeq", 1, ndeath.payload.getMetricsCount());

        ChildJvm second = closeLater(SparkplugChildMain.start(broker.host(), broker.port(), id, group, "edge",
                store));
        long secondBdSeq = bdSeqOf(second);
        assertEquals("a new JVM on the same STOREDIR takes the next bdSeq", (firstBdSeq + 1) % 256, secondBdSeq);
        List<SparkplugCapture.Message> births = capture.awaitType("NBIRTH", 2, DELIVERY_MS);
        assertEquals(capture.describe(), 2, births.size());
        assertEquals(secondBdSeq, births.get(1).bdSeq());
        assertEquals(0, births.get(1).seq());
    }

    @Test
    public void readings_every_100_ms_while_the_broker_is_down_follow_the_new_births_as_history_without_seq_gap()
            throws Exception {
        // The broker keeps the capture's session and queues QoS 0 messages for
        // it while it reconnects, so nothing the node sends after the restart
        // is missed by the test.
        Path persistence = BrokerProcess.tempDir("etkmqtt-persistence-");
        closeLater(BrokerProcess.deleting(persistence));
        Mosquitto broker = broker(BrokerProcess.persistentConfig(persistence.toFile())
                .line("queue_qos0_messages true"));
        String group = group();
        SparkplugCapture capture = closeLater(SparkplugCapture.start(broker, group, "-c"));

        TestClient client = clientFor(broker);
        client.options("STOREDIR", storeDir().toString(), "STORESYNC", "batch", "RECONNECTMIN", "1",
                "RECONNECTMAX", "1");
        SparkplugNode node = new SparkplugNode(client, group, "edge");
        closeLater(() -> node.close());
        node.setNodeMetrics(new String[] {"Reading"}, new Object[] {Long.valueOf(-1)});
        node.setDeviceMetrics("plc", new String[] {"Count"}, new Object[] {Integer.valueOf(0)});
        connectAndWait(client);
        SparkplugCapture.Message firstBirth = capture.awaitType("NBIRTH", 1, DELIVERY_MS).get(0);

        // One reading every 100 ms, noting whether the client was connected.
        List<Boolean> connectedAtRecord = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread readings = new Thread(() -> {
            try {
                for (long i = 0; !stop.get(); i++) {
                    boolean connected = client.getStatus() == MqttClient.STATUS_CONNECTED;
                    node.publishNodeData(new String[] {"Reading"}, new Object[] {Long.valueOf(i)},
                            System.currentTimeMillis());
                    connectedAtRecord.add(connected);
                    Thread.sleep(100);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "sparkplug-readings");
        readings.start();
        Waits.until(DELIVERY_MS, () -> connectedAtRecord.size() >= 5);
        broker.stop();
        assertTrue(client.awaitStatusEvent(MqttClient.STATUS_CONNECTING, CONNECT_MS));
        int beforeRestart = connectedAtRecord.size();
        Waits.until(DELIVERY_MS, () -> connectedAtRecord.size() >= beforeRestart + 25);
        broker.restart();
        assertTrue("reborn after the restart:\n" + capture.describe(),
                capture.awaitType("NBIRTH", 2, 30_000).size() == 2);
        int afterReconnect = connectedAtRecord.size();
        Waits.until(DELIVERY_MS, () -> connectedAtRecord.size() >= afterReconnect + 5);
        stop.set(true);
        readings.join(5_000);
        assertEquals(null, failure.get());
        int total = connectedAtRecord.size();
        Waits.until(DELIVERY_MS, () -> {
            try {
                return node.getQueuedCount() == 0;
            } catch (EWException e) {
                throw new AssertionError(e);
            }
        });
        SparkplugCapture.Message last = capture.awaitFirst(m -> m.type.equals("NDATA")
                && m.payload.getMetrics(0).getLongValue() == total - 1, DELIVERY_MS);
        assertNotNull("the last reading arrived:\n" + capture.describe(), last);

        List<SparkplugCapture.Message> all = capture.messages();
        int rebirthAt = -1;
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).type.equals("NBIRTH") && i > 0) {
                rebirthAt = i;
            }
        }
        SparkplugCapture.Message reborn = all.get(rebirthAt);
        assertEquals("a new CONNECT, the next bdSeq", (firstBirth.bdSeq() + 1) % 256, reborn.bdSeq());
        assertEquals("DBIRTH follows the NBIRTH", "DBIRTH", all.get(rebirthAt + 1).type);
        // From the new NBIRTH on: seq 0, 1, 2, ... without a gap.
        for (int i = rebirthAt; i < all.size(); i++) {
            assertEquals("seq of " + all.get(i), i - rebirthAt, all.get(i).seq());
        }
        // Every reading, in order; each one recorded while disconnected
        // arrives after the new births, marked historical.
        long expected = -1;
        for (int i = 0; i < all.size(); i++) {
            SparkplugCapture.Message message = all.get(i);
            if (!message.type.equals("NDATA")) {
                continue;
            }
            SparkplugBProto.Payload.Metric metric = message.payload.getMetrics(0);
            long value = metric.getLongValue();
            assertTrue("readings in order: " + value + " after " + expected, value > expected);
            for (long skipped = expected + 1; skipped < value; skipped++) {
                // QoS 0, as Sparkplug requires: what was on its way to the
                // broker as it stopped may be lost, but only that.
                assertTrue("reading " + skipped + " recorded offline was lost",
                        connectedAtRecord.get((int) skipped));
            }
            expected = value;
            if (!connectedAtRecord.get((int) value)) {
                assertTrue("reading " + value + " recorded offline comes after the new births", i > rebirthAt);
                assertTrue("reading " + value + " recorded offline is historical", metric.getIsHistorical());
            }
        }
        assertEquals(total - 1, expected);
        assertFalse("the last reading, recorded live, is not historical",
                last.payload.getMetrics(0).getIsHistorical());
        int offline = 0;
        for (Boolean connected : connectedAtRecord) {
            offline += connected ? 0 : 1;
        }
        assertTrue("readings were recorded offline: " + offline, offline >= 25);
    }
}
