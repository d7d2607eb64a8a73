package org.etkmqtt;

import static org.junit.Assert.assertEquals;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.TestClient;
import org.junit.Test;

/**
 * Java strings reach the broker exactly or not at all: a string that is not
 * valid UTF-16 (a lone surrogate) is refused with an EWException that says
 * where, never replaced by U+FFFD; any valid string arrives unchanged.
 */
public class StringIntegrityTest extends ClientTestSupport {
    @Test
    public void a_topic_with_a_lone_surrogate_is_refused_not_changed() throws Exception {
        TestClient client = newClient("127.0.0.1");
        for (String topic : new String[] {"a/\uD800", "a/\uDC00/b", "\uD83D", "x\uDE00"}) {
            EWException e = expectEW(() -> client.publish(new MqttMessage(topic, "x"), 1, false));
            assertContains("lone surrogate", e.getMessage());
            assertContains("topic", e.getMessage());
        }
        assertEquals("nothing was queued", 0, client.getQueuedCount());
    }

    @Test
    public void nul_followed_by_a_surrogate_is_refused() throws Exception {
        TestClient client = newClient("127.0.0.1");
        EWException e = expectEW(() -> client.publish(new MqttMessage("a\u0000\uD800", "x"), 1, false));
        assertContains("lone surrogate", e.getMessage());
        EWException nul = expectEW(() -> client.publish(new MqttMessage("a\u0000b", "x"), 1, false));
        assertContains("NUL", nul.getMessage());
    }

    @Test
    public void option_values_filters_and_tag_names_with_lone_surrogates_are_refused() throws Exception {
        TestClient client = newClient("127.0.0.1");
        assertContains("lone surrogate", expectEW(() -> client.setOption("USERNAME", "u\uD800")).getMessage());
        assertContains("lone surrogate", expectEW(() -> client.subscribe("a/\uDBFF/#", 1)).getMessage());
        assertContains("lone surrogate", expectEW(() -> client.publishTags("t", new String[] {"T\uD800"},
                new Object[] {new Integer(1)}, 0L, 0, false)).getMessage());
        assertContains("lone surrogate", expectEW(() -> client.publishTags("t", new String[] {"T"},
                new Object[] {"v\uDC00"}, 0L, 0, false)).getMessage());
    }

    @Test
    public void accented_and_non_bmp_topics_arrive_exactly() throws Exception {
        Mosquitto broker = plainBroker();
        String base = topic();
        // The filter stays ASCII: a command-line argument passes through the
        // JVM's platform encoding, the received topic comes back as UTF-8.
        MosquittoSub sub = closeLater(broker.mosquittoSub(base + "/#", 1));
        String topic = base + "/\u00e9/\uD83D\uDE00/\u4e2d";
        TestClient client = clientFor(broker);
        connectAndWait(client);
        client.publish(new MqttMessage(topic, "\uD83D\uDE00 payload"), 1, false);
        sub.awaitMessages(1, DELIVERY_MS);
        assertEquals(topic, sub.messages().get(0).topic);
        assertEquals("\uD83D\uDE00 payload", sub.messages().get(0).text());
    }
}
