package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.eclipse.tahu.message.SparkplugBPayloadDecoder;
import org.eclipse.tahu.message.SparkplugBPayloadEncoder;
import org.eclipse.tahu.message.model.Metric;
import org.eclipse.tahu.message.model.MetricDataType;
import org.eclipse.tahu.message.model.SparkplugBPayload;
import org.eclipse.tahu.model.MetricDataTypeMap;
import org.eclipse.tahu.protobuf.SparkplugBProto;
import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.SparkplugCapture;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/**
 * SparkplugNode against a real Mosquitto, every payload judged by Eclipse
 * Tahu 1.0.12 (its protobuf classes and its payload decoder), not by
 * etkmqtt's own decoder: births, DATA by alias, seq, bdSeq, timestamps,
 * Rebirth, commands, the primary host's STATE, close.
 */
public class SparkplugNodeTest extends ClientTestSupport {
    private static final String[] NODE_NAMES = {"Int", "Long", "Float", "Double", "Bool", "Text"};
    private static final long BIG_LONG = 1L << 40;

    private static Object[] nodeValues() {
        return new Object[] {Integer.valueOf(-5), Long.valueOf(BIG_LONG), Float.valueOf(1.5f),
            Double.valueOf(-2.25), Boolean.TRUE, "h\u00e9llo"};
    }

    /** A unique group per test: the capture sees only this test's node. */
    private String group() {
        return "etk-" + testName.getMethodName().hashCode() + "-" + ProcessHandle.current().pid();
    }

    private SparkplugNode node(TestClient client, String group) throws EWException {
        SparkplugNode node = new SparkplugNode(client, group, "edge-1");
        closeLater(() -> node.close());
        node.setNodeMetrics(NODE_NAMES, nodeValues());
        node.setDeviceMetrics("plc", new String[] {"Running", "Speed"},
                new Object[] {Boolean.TRUE, Integer.valueOf(1200)});
        return node;
    }

    private SparkplugCapture capture(Mosquitto broker, String group) {
        return closeLater(SparkplugCapture.start(broker, group));
    }

    private static byte[] tahuPayload(Metric... metrics) throws Exception {
        SparkplugBPayload.SparkplugBPayloadBuilder builder =
                new SparkplugBPayload.SparkplugBPayloadBuilder().setTimestamp(new Date());
        for (Metric metric : metrics) {
            builder.addMetric(metric);
        }
        return new SparkplugBPayloadEncoder().getBytes(builder.createPayload(), false);
    }

    /** Position by identity (Message has no equals). */
    private static int indexOf(List<SparkplugCapture.Message> all, SparkplugCapture.Message message) {
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).topic.equals(message.topic) && all.get(i).payload.equals(message.payload)) {
                return i;
            }
        }
        return -1;
    }

    private static Metric tahuMetric(SparkplugBPayload payload, String name) {
        for (Metric metric : payload.getMetrics()) {
            if (name.equals(metric.getName())) {
                return metric;
            }
        }
        throw new AssertionError("Tahu decoded no metric " + name + ": " + payload);
    }

    private static long alias(SparkplugCapture.Message birth, String name) {
        SparkplugBProto.Payload.Metric metric = birth.metric(name);
        assertTrue(name + " has an alias in " + birth, metric.hasAlias());
        return metric.getAlias();
    }

    @Test
    public void births_and_data_decoded_by_tahu_carry_types_aliases_seq_bdseq_and_timestamps() throws Exception {
        Mosquitto broker = plainBroker();
        String group = group();
        SparkplugCapture capture = capture(broker, group);
        TestClient client = clientFor(broker);
        long declared = System.currentTimeMillis();
        SparkplugNode node = node(client, group);
        assertEquals("the first CONNECT's bdSeq", 0, node.getBdSeq());
        long before = System.currentTimeMillis();
        connectAndWait(client);

        List<SparkplugCapture.Message> births = capture.awaitCount(2, DELIVERY_MS);
        assertEquals(capture.describe(), 2, births.size());
        SparkplugCapture.Message nbirth = births.get(0);
        long after = System.currentTimeMillis();
        assertEquals("spBv1.0/" + group + "/NBIRTH/edge-1", nbirth.topic);
        assertEquals("NBIRTH is QoS 0", 0, nbirth.qos);
        assertFalse("NBIRTH is not retained", nbirth.retained);
        assertEquals(0, nbirth.seq());
        long stamp = nbirth.payload.getTimestamp();
        assertTrue("payload timestamp " + stamp + " within the connect", stamp >= before && stamp <= after);
        assertEquals(node.getBdSeq(), nbirth.bdSeq());
        SparkplugBProto.Payload.Metric rebirth = nbirth.metric("Node Control/Rebirth");
        assertEquals(MetricDataType.Boolean.toIntValue(), rebirth.getDatatype());
        assertFalse(rebirth.getBooleanValue());
        assertFalse("Rebirth has no alias", rebirth.hasAlias());

        int[] types = {MetricDataType.Int32.toIntValue(), MetricDataType.Int64.toIntValue(),
            MetricDataType.Float.toIntValue(), MetricDataType.Double.toIntValue(),
            MetricDataType.Boolean.toIntValue(), MetricDataType.String.toIntValue()};
        for (int i = 0; i < NODE_NAMES.length; i++) {
            SparkplugBProto.Payload.Metric metric = nbirth.metric(NODE_NAMES[i]);
            assertEquals(NODE_NAMES[i] + " datatype", types[i], metric.getDatatype());
            // The value's time: when setNodeMetrics declared it.
            assertTrue(NODE_NAMES[i] + " timestamp", metric.hasTimestamp() && metric.getTimestamp() >= declared
                    && metric.getTimestamp() <= before);
        }
        // Tahu's own payload decoder turns them into the Java types they came from.
        SparkplugBPayload decoded = new SparkplugBPayloadDecoder().buildFromByteArray(nbirth.bytes, null);
        Object[] expected = nodeValues();
        for (int i = 0; i < NODE_NAMES.length; i++) {
            assertEquals(NODE_NAMES[i], expected[i], tahuMetric(decoded, NODE_NAMES[i]).getValue());
        }

        SparkplugCapture.Message dbirth = births.get(1);
        assertEquals("spBv1.0/" + group + "/DBIRTH/edge-1/plc", dbirth.topic);
        assertEquals(0, dbirth.qos);
        assertEquals(1, dbirth.seq());
        assertEquals(1200, dbirth.metric("Speed").getIntValue());
        Set<Long> aliases = new HashSet<>();
        int aliased = 0;
        for (SparkplugCapture.Message birth : births) {
            for (SparkplugBProto.Payload.Metric metric : birth.payload.getMetricsList()) {
                if (metric.hasAlias()) {
                    aliases.add(metric.getAlias());
                    aliased++;
                }
            }
        }
        assertEquals("8 metrics with aliases, unique across node and device", 8, aliased);
        assertEquals(aliased, aliases.size());

        long readAt = System.currentTimeMillis() - 1234;
        node.publishNodeData(new String[] {"Double", "Int"}, new Object[] {Double.valueOf(3.5), Integer.valueOf(-6)},
                readAt);
        node.publishDeviceData("plc", new String[] {"Speed"}, new Object[] {null}, readAt + 1);
        List<SparkplugCapture.Message> all = capture.awaitCount(4, DELIVERY_MS);
        assertEquals(capture.describe(), 4, all.size());
        SparkplugCapture.Message ndata = all.get(2);
        assertEquals("spBv1.0/" + group + "/NDATA/edge-1", ndata.topic);
        assertEquals(0, ndata.qos);
        assertEquals(2, ndata.seq());
        assertTrue(ndata.payload.getTimestamp() >= readAt);
        SparkplugBProto.Payload.Metric first = ndata.payload.getMetrics(0);
        assertFalse("DATA carries no names", first.hasName());
        assertEquals(alias(nbirth, "Double"), first.getAlias());
        assertEquals(readAt, first.getTimestamp());
        assertFalse("live data", first.getIsHistorical());
        assertEquals(alias(nbirth, "Int"), ndata.payload.getMetrics(1).getAlias());
        // Tahu resolves the aliases with the datatypes the birth gave them.
        MetricDataTypeMap types32 = new MetricDataTypeMap();
        types32.addMetricDataType(alias(nbirth, "Double"), MetricDataType.Double);
        types32.addMetricDataType(alias(nbirth, "Int"), MetricDataType.Int32);
        SparkplugBPayload data = new SparkplugBPayloadDecoder().buildFromByteArray(ndata.bytes, types32);
        assertEquals(Double.valueOf(3.5), data.getMetrics().get(0).getValue());
        assertEquals(Integer.valueOf(-6), data.getMetrics().get(1).getValue());

        SparkplugCapture.Message ddata = all.get(3);
        assertEquals("spBv1.0/" + group + "/DDATA/edge-1/plc", ddata.topic);
        assertEquals(3, ddata.seq());
        assertEquals(alias(dbirth, "Speed"), ddata.payload.getMetrics(0).getAlias());
        assertTrue("null is sent as is_null", ddata.payload.getMetrics(0).getIsNull());
    }

    @Test
    public void data_for_an_unknown_metric_device_or_type_is_refused_naming_it() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        SparkplugNode node = node(client, group());
        assertContains("'Humidity'", expectEW(() -> node.publishNodeData(new String[] {"Humidity"},
                new Object[] {Double.valueOf(1)}, System.currentTimeMillis())).getMessage());
        String wrongType = expectEW(() -> node.publishNodeData(new String[] {"Int"},
                new Object[] {Double.valueOf(1)}, System.currentTimeMillis())).getMessage();
        assertContains("'Int'", wrongType);
        assertContains("Integer", wrongType);
        assertContains("'pump'", expectEW(() -> node.publishDeviceData("pump", new String[] {"Running"},
                new Object[] {Boolean.TRUE}, System.currentTimeMillis())).getMessage());
        assertContains("java.util.Date", expectEW(() -> node.setNodeMetrics(new String[] {"When"},
                new Object[] {new Date()})).getMessage());
        assertContains("2 metric names but 1 values", expectEW(() -> node.publishNodeData(
                new String[] {"Int", "Long"}, new Object[] {Integer.valueOf(1)}, 0)).getMessage());
        assertContains("reserved", expectEW(() -> node.setNodeMetrics(new String[] {"bdSeq"},
                new Object[] {Long.valueOf(1)})).getMessage());
        assertEquals("nothing was queued", 0, node.getQueuedCount());
    }

    @Test
    public void rebirth_ncmd_sent_by_mosquitto_pub_is_answered_with_nbirth_within_1_s() throws Exception {
        Mosquitto broker = plainBroker();
        String group = group();
        SparkplugCapture capture = capture(broker, group);
        TestClient client = clientFor(broker);
        SparkplugNode node = node(client, group);
        connectAndWait(client);
        SparkplugCapture.Message firstBirth = capture.awaitType("NBIRTH", 1, DELIVERY_MS).get(0);
        node.publishNodeData(new String[] {"Long"}, new Object[] {Long.valueOf(77)}, System.currentTimeMillis());
        assertEquals(capture.describe(), 1, capture.awaitType("NDATA", 1, DELIVERY_MS).size());
        assertTrue("subscribed to NCMD", broker.awaitSubscription(client.clientId(),
                "spBv1.0/" + group + "/NCMD/edge-1", CONNECT_MS));

        byte[] rebirth = tahuPayload(new Metric.MetricBuilder("Node Control/Rebirth", MetricDataType.Boolean,
                Boolean.TRUE).createMetric());
        broker.mosquittoPub("spBv1.0/" + group + "/NCMD/edge-1", rebirth, 0, false);
        List<SparkplugCapture.Message> nbirths = capture.awaitType("NBIRTH", 2, 1_000);
        assertEquals("a new NBIRTH within 1 s of the Rebirth command:\n" + capture.describe(), 2, nbirths.size());
        SparkplugCapture.Message reborn = nbirths.get(1);
        assertEquals(0, reborn.seq());
        assertEquals("same bdSeq: no new CONNECT", firstBirth.bdSeq(), reborn.bdSeq());
        assertEquals("current value", 77, reborn.metric("Long").getLongValue());
        SparkplugCapture.Message dbirth = capture.awaitType("DBIRTH", 2, DELIVERY_MS).get(1);
        assertEquals(1, dbirth.seq());
        List<SparkplugCapture.Message> all = capture.messages();
        assertEquals("DBIRTH right after the NBIRTH", "DBIRTH", all.get(indexOf(all, reborn) + 1).type);

        // The application sees the NCMD; decoding it yields nothing to apply.
        assertTrue(client.awaitMessages(1, DELIVERY_MS));
        MqttMessage command = client.messages().get(0);
        TagValue[] writes = node.decodeCommand(command);
        assertNotNull(writes);
        assertEquals(0, writes.length);
        assertNull("not a command of this node", node.decodeCommand(new MqttMessage("other/topic", "x")));
    }

    @Test
    public void commands_are_decoded_to_tag_values_by_alias_and_name() throws Exception {
        Mosquitto broker = plainBroker();
        String group = group();
        SparkplugCapture capture = capture(broker, group);
        TestClient client = clientFor(broker);
        SparkplugNode node = node(client, group);
        connectAndWait(client);
        SparkplugCapture.Message nbirth = capture.awaitType("NBIRTH", 1, DELIVERY_MS).get(0);
        assertTrue(broker.awaitSubscription(client.clientId(), "spBv1.0/" + group + "/DCMD/edge-1/+", CONNECT_MS));

        Metric byAlias = new Metric.MetricBuilder(alias(nbirth, "Double"), MetricDataType.Double, Double.valueOf(42.5))
                .timestamp(new Date(1_700_000_000_000L)).createMetric();
        broker.mosquittoPub("spBv1.0/" + group + "/NCMD/edge-1", tahuPayload(byAlias), 0, false);
        Metric byName = new Metric.MetricBuilder("Speed", MetricDataType.Int32, Integer.valueOf(-1500)).createMetric();
        broker.mosquittoPub("spBv1.0/" + group + "/DCMD/edge-1/plc", tahuPayload(byName), 0, false);
        assertTrue(client.describe(), client.awaitMessages(2, DELIVERY_MS));

        TagValue[] ncmd = node.decodeCommand(client.messages().get(0));
        assertEquals(1, ncmd.length);
        assertEquals("Double", ncmd[0].getName());
        assertEquals(Double.valueOf(42.5), ncmd[0].getValue());
        assertEquals("1700000000000", ncmd[0].getTime());
        TagValue[] dcmd = node.decodeCommand(client.messages().get(1));
        assertEquals(1, dcmd.length);
        assertEquals("plc/Speed", dcmd[0].getName());
        assertEquals(Integer.valueOf(-1500), dcmd[0].getValue());
        assertContains("Sparkplug payload",
                expectEW(() -> node.decodeCommand(new MqttMessage("spBv1.0/" + group + "/NCMD/edge-1",
                        new byte[] {(byte) 0xff, (byte) 0xff}))).getMessage());
    }

    @Test
    public void primary_host_state_offline_and_online_pauses_and_resumes_the_node() throws Exception {
        Mosquitto broker = plainBroker();
        String group = group();
        SparkplugCapture capture = capture(broker, group);
        TestClient client = clientFor(broker);
        SparkplugNode node = node(client, group);
        node.setPrimaryHost("scada");
        connectAndWait(client);
        assertTrue(broker.awaitSubscription(client.clientId(), "spBv1.0/STATE/scada", CONNECT_MS));
        assertTrue("no birth before the host is online: " + capture.describe(),
                capture.awaitCount(1, 500).isEmpty());

        long t = System.currentTimeMillis();
        broker.mosquittoPub("spBv1.0/STATE/scada", "{\"online\":true,\"timestamp\":" + t + "}", 1, true);
        SparkplugCapture.Message nbirth = capture.awaitType("NBIRTH", 1, DELIVERY_MS).get(0);
        node.publishNodeData(new String[] {"Long"}, new Object[] {Long.valueOf(1)}, System.currentTimeMillis());
        assertFalse(capture.awaitType("NDATA", 1, DELIVERY_MS).get(0).payload.getMetrics(0).getIsHistorical());

        broker.mosquittoPub("spBv1.0/STATE/scada", "{\"online\":false,\"timestamp\":" + (t + 1) + "}", 1, true);
        List<SparkplugCapture.Message> deaths = capture.awaitType("NDEATH", 1, DELIVERY_MS);
        assertEquals("NDEATH when the host goes offline:\n" + capture.describe(), 1, deaths.size());
        assertEquals(nbirth.bdSeq(), deaths.get(0).bdSeq());
        node.publishNodeData(new String[] {"Long"}, new Object[] {Long.valueOf(2)}, System.currentTimeMillis());
        node.publishNodeData(new String[] {"Long"}, new Object[] {Long.valueOf(3)}, System.currentTimeMillis());
        assertEquals("queued while the host is offline", 2, node.getQueuedCount());

        broker.mosquittoPub("spBv1.0/STATE/scada", "{\"online\":true,\"timestamp\":" + (t + 2) + "}", 1, true);
        List<SparkplugCapture.Message> ndata = capture.awaitType("NDATA", 3, DELIVERY_MS);
        assertEquals(capture.describe(), 3, ndata.size());
        List<SparkplugCapture.Message> all = capture.messages();
        SparkplugCapture.Message reborn = capture.ofType("NBIRTH").get(1);
        assertTrue("history after the new births", indexOf(all, reborn) < indexOf(all, ndata.get(1)));
        for (int i = 1; i <= 2; i++) {
            SparkplugBProto.Payload.Metric metric = ndata.get(i).payload.getMetrics(0);
            assertEquals(i + 1, metric.getLongValue());
            assertTrue("recorded while the host was offline", metric.getIsHistorical());
            assertEquals("seq continues after NBIRTH 0 and DBIRTH 1", i + 1, ndata.get(i).seq());
        }
        for (MqttMessage message : client.messages()) {
            assertFalse("STATE is kept from the application", message.getTopic().startsWith("spBv1.0/STATE"));
        }
    }

    @Test
    public void close_publishes_ddeath_and_ndeath_and_the_client_stays_open() throws Exception {
        Mosquitto broker = plainBroker();
        String group = group();
        SparkplugCapture capture = capture(broker, group);
        TestClient client = clientFor(broker);
        SparkplugNode node = node(client, group);
        connectAndWait(client);
        SparkplugCapture.Message nbirth = capture.awaitType("NBIRTH", 1, DELIVERY_MS).get(0);
        capture.awaitType("DBIRTH", 1, DELIVERY_MS);
        long bdSeq = node.getBdSeq();
        node.close();
        node.close();
        List<SparkplugCapture.Message> all = capture.awaitCount(4, DELIVERY_MS);
        assertEquals(capture.describe(), 4, all.size());
        assertEquals("DDEATH", all.get(2).type);
        assertEquals(2, all.get(2).seq());
        assertEquals("NDEATH", all.get(3).type);
        assertFalse("NDEATH has no seq", all.get(3).payload.hasSeq());
        assertEquals(nbirth.bdSeq(), all.get(3).bdSeq());
        assertEquals("getBdSeq after close", bdSeq, node.getBdSeq());
        assertContains("closed", expectEW(() -> node.publishNodeData(new String[] {"Long"},
                new Object[] {Long.valueOf(1)}, 0)).getMessage());

        assertEquals(MqttClient.STATUS_CONNECTED, client.getStatus());
        String plain = topic();
        try (MosquittoSub sub = broker.mosquittoSub(plain, 1)) {
            client.publish(new MqttMessage(plain, "still open"), 1, false);
            assertEquals("the client still works", 1, sub.awaitMessages(1, DELIVERY_MS).size());
        }
        client.close();
        assertTrue(broker.awaitLog("Client " + client.clientId() + " disconnected.", CONNECT_MS));
        assertEquals("no will after DISCONNECT: " + capture.describe(), 4, capture.awaitCount(5, 300).size());
    }

    @Test
    public void node_is_created_before_connect_and_after_the_store_options() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        assertContains("'a/b'", expectEW(() -> new SparkplugNode(client, "a/b", "n")).getMessage());
        SparkplugNode node = new SparkplugNode(client, group(), "edge-1");
        closeLater(() -> node.close());
        assertContains("one node", expectEW(() -> new SparkplugNode(client, group(), "edge-2")).getMessage());
        assertContains("STOREDIR", expectEW(() -> client.setOption("STOREDIR", "/tmp")).getMessage());
        client.setOption("KEEPALIVE", "30");
        connectAndWait(client);

        TestClient late = clientFor(broker);
        connectAndWait(late);
        assertContains("before connect()", expectEW(() -> new SparkplugNode(late, group(), "edge-3")).getMessage());
        TestClient persistent = clientFor(broker);
        persistent.setOption("CLEANSESSION", "0");
        assertContains("clean session", expectEW(() -> new SparkplugNode(persistent, group(), "edge-4"))
                .getMessage());
    }
}
