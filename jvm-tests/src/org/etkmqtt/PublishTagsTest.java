package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Date;
import java.util.List;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * {@link MqttClient#publishTags} over a real Mosquitto: a mosquitto_sub
 * subscriber receives tag JSON that a real parser (Jackson) accepts, with
 * the time shifted by TAGTIMEOFFSET; bad arguments fail like
 * {@link TagJson#encode} and publish nothing.
 */
public class PublishTagsTest extends ClientTestSupport {
    /** 2024-05-01 23:30:00 UTC: an offset of 60 minutes moves it to the next day. */
    private static final long MAY_1_23_30 = 1714606200000L;

    private static final String[] NAMES = {"Temperature", "Count", "Running", "Mode", "Quote\"Back\\slash", "Missing",
        "Broken"};
    private static final Object[] VALUES = {Double.valueOf(21.75), Integer.valueOf(12), Boolean.TRUE, "auto \"eco\"\n",
        Double.valueOf(12.0), null, Double.valueOf(Double.NaN)};

    @Test
    public void publishTags_reaches_subscriber_as_valid_tag_json_with_offset_time() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker).options("TAGTIMEOFFSET", "60");
        connectAndWait(client);
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));

        client.publishTags(topic, NAMES, VALUES, MAY_1_23_30, 1, false);

        MosquittoSub.Received message = single(sub);
        assertEquals(topic, message.topic);
        assertEquals(1, message.qos);
        JsonNode tags = TagJsonTest.assertValidTagJson(message.text(), NAMES.length);
        for (int i = 0; i < NAMES.length; i++) {
            JsonNode tag = tags.get(i);
            assertEquals(NAMES[i], tag.get("tag").textValue());
            assertEquals("one hour after UTC", "2024-05-02 00:30:00", tag.get("time").textValue());
        }
        assertEquals(21.75, tags.get(0).get("value").doubleValue(), 0.0);
        assertTrue(tags.get(1).get("value").isIntegralNumber());
        assertEquals(12, tags.get(1).get("value").intValue());
        assertTrue(tags.get(2).get("value").booleanValue());
        assertEquals("auto \"eco\"\n", tags.get(3).get("value").textValue());
        assertEquals("12.0 is written as 12", "12", tags.get(4).get("value").toString());
        assertTrue(tags.get(5).get("value").isNull());
        assertTrue("NaN is written as null", tags.get(6).get("value").isNull());
        // The payload is exactly what TagJson.encode writes for the same offset.
        assertEquals(TagJson.encode(NAMES, VALUES, MAY_1_23_30, 60), message.text());
    }

    @Test
    public void publishTags_without_offset_writes_utc() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 0));

        client.publishTags(topic, new String[] {"T1"}, new Object[] {Double.valueOf(12.5)}, MAY_1_23_30, 0, false);

        assertEquals("[{\"tag\":\"T1\",\"value\":12.5,\"time\":\"2024-05-01 23:30:00\"}]", single(sub).text());
    }

    @Test
    public void publishTags_negative_offset_moves_time_back_across_midnight() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker).options("TAGTIMEOFFSET", "-1440");
        connectAndWait(client);
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 0));

        client.publishTags(topic, new String[] {"T1"}, new Object[] {Boolean.FALSE}, MAY_1_23_30, 0, false);

        JsonNode tag = TagJsonTest.assertValidTagJson(single(sub).text(), 1).get(0);
        assertEquals("2024-04-30 23:30:00", tag.get("time").textValue());
        assertEquals(false, tag.get("value").booleanValue());
    }

    @Test
    public void publishTags_retained_reaches_a_later_subscriber() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        String topic = topic();
        client.publishTags(topic, new String[] {"Level"}, new Object[] {Long.valueOf(7)}, MAY_1_23_30, 1, true);
        // A QoS 1 publish is acknowledged before close() returns, so the broker keeps it.
        client.close();

        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));
        MosquittoSub.Received message = single(sub);
        assertTrue("retained", message.retained);
        assertEquals("[{\"tag\":\"Level\",\"value\":7,\"time\":\"2024-05-01 23:30:00\"}]", message.text());
    }

    @Test
    public void publishTags_rejects_bad_arguments_like_encode_and_publishes_nothing() throws Exception {
        Mosquitto broker = plainBroker();
        TestClient client = clientFor(broker);
        connectAndWait(client);
        String topic = topic();
        MosquittoSub sub = closeLater(broker.mosquittoSub(topic, 1));

        EWException e = expectEW(() -> client.publishTags(topic, new String[] {"a", "b"},
                new Object[] {Integer.valueOf(1)}, MAY_1_23_30, 1, false));
        assertContains("2 names", e.getMessage());
        assertContains("1 value", e.getMessage());

        assertContains("must not be null", expectEW(() -> client.publishTags(topic, null, new Object[0], 0, 1,
                false)).getMessage());
        assertContains("must not be null", expectEW(() -> client.publishTags(topic, new String[0], null, 0, 1,
                false)).getMessage());
        assertContains("topic", expectEW(() -> client.publishTags(null, new String[0], new Object[0], 0, 1,
                false)).getMessage());

        e = expectEW(() -> client.publishTags(topic, new String[] {"a", null}, new Object[] {null, null}, 0, 1,
                false));
        assertContains("index 1", e.getMessage());

        e = expectEW(() -> client.publishTags(topic, new String[] {"a", "b", "c"},
                new Object[] {Integer.valueOf(1), "x", new Date(0)}, 0, 1, false));
        assertContains("2", e.getMessage());
        assertContains("java.util.Date", e.getMessage());

        // Times outside the years 0000 to 9999 have no YYYY-MM-DD spelling.
        e = expectEW(() -> client.publishTags(topic, new String[] {"T1"}, new Object[] {Integer.valueOf(1)},
                Long.MAX_VALUE, 1, false));
        assertContains("year 292278994", e.getMessage());
        assertContains("0000 to 9999", e.getMessage());
        assertEquals("a refused publishTags queues nothing", 0, client.getQueuedCount());

        // Still connected and working; only the marker arrives.
        client.publishTags(topic, new String[] {"marker"}, new Object[] {Boolean.TRUE}, MAY_1_23_30, 1, false);
        List<MosquittoSub.Received> messages = sub.awaitMessages(1, DELIVERY_MS);
        assertEquals(1, messages.size());
        assertContains("\"marker\"", messages.get(0).text());
        assertEquals(MqttClient.STATUS_CONNECTED, client.getStatus());
        assertEquals("nothing else was published", 1, sub.messages().size());
    }

    @Test
    public void tagtimeoffset_outside_a_day_is_rejected_naming_the_option() throws Exception {
        TestClient client = newClient("127.0.0.1");
        assertContains("TAGTIMEOFFSET", expectEW(() -> client.setOption("TAGTIMEOFFSET", "2000")).getMessage());
        assertContains("TAGTIMEOFFSET", expectEW(() -> client.setOption("TAGTIMEOFFSET", "one hour"))
                .getMessage());
    }

    /** Waits for exactly one message and returns it. */
    private static MosquittoSub.Received single(MosquittoSub sub) {
        List<MosquittoSub.Received> messages = sub.awaitMessages(1, DELIVERY_MS);
        assertEquals("messages: " + messages + "\n" + sub.output(), 1, messages.size());
        return messages.get(0);
    }
}
