package org.etkmqtt.harness;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import org.eclipse.tahu.protobuf.SparkplugBProto;

import com.google.protobuf.InvalidProtocolBufferException;

/**
 * Everything published under {@code spBv1.0/<group>/#}, as mosquitto_sub
 * received it, each payload decoded by Eclipse Tahu's protobuf classes (the
 * independent decoder: the tests never use etkmqtt's own to judge it).
 */
public final class SparkplugCapture implements AutoCloseable {
    private final MosquittoSub sub;

    private SparkplugCapture(MosquittoSub sub) {
        this.sub = sub;
    }

    /** Subscribes at QoS 1; returns once the broker has the subscription. */
    public static SparkplugCapture start(Mosquitto broker, String group, String... extraArgs) {
        return new SparkplugCapture(MosquittoSub.start(broker, "spBv1.0/" + group + "/#", 1, extraArgs));
    }

    /** One Sparkplug message. */
    public static final class Message {
        public final String topic;
        /** NBIRTH, NDATA, DBIRTH, ...: the third topic level. */
        public final String type;
        /** The fifth topic level, or null for node messages. */
        public final String device;
        public final SparkplugBProto.Payload payload;
        public final byte[] bytes;
        public final int qos;
        public final boolean retained;

        Message(MosquittoSub.Received received) {
            topic = received.topic;
            String[] levels = topic.split("/");
            type = levels.length > 2 ? levels[2] : "";
            device = levels.length > 4 ? levels[4] : null;
            bytes = received.payload;
            qos = received.qos;
            retained = received.retained;
            try {
                payload = SparkplugBProto.Payload.parseFrom(received.payload);
            } catch (InvalidProtocolBufferException e) {
                throw new AssertionError("Tahu cannot decode the payload on " + topic + ": " + e, e);
            }
        }

        /** The payload's seq; fails when there is none. */
        public long seq() {
            if (!payload.hasSeq()) {
                throw new AssertionError(type + " has no seq: " + payload);
            }
            return payload.getSeq();
        }

        public SparkplugBProto.Payload.Metric metric(String name) {
            for (SparkplugBProto.Payload.Metric metric : payload.getMetricsList()) {
                if (metric.hasName() && metric.getName().equals(name)) {
                    return metric;
                }
            }
            throw new AssertionError("no metric '" + name + "' in " + type + ": " + payload);
        }

        public long bdSeq() {
            return metric("bdSeq").getLongValue();
        }

        @Override
        public String toString() {
            return topic + (payload.hasSeq() ? " seq " + payload.getSeq() : "") + " " + payload.getMetricsCount()
                    + " metrics";
        }
    }

    /** Everything received so far, in order. */
    public List<Message> messages() {
        List<Message> all = new ArrayList<>();
        for (MosquittoSub.Received received : sub.messages()) {
            all.add(new Message(received));
        }
        return all;
    }

    /** The messages of one type ("NBIRTH", ...), in order. */
    public List<Message> ofType(String type) {
        List<Message> matching = new ArrayList<>();
        for (Message message : messages()) {
            if (message.type.equals(type)) {
                matching.add(message);
            }
        }
        return matching;
    }

    /** Waits until {@code count} messages of {@code type} came; returns them (fewer on timeout). */
    public List<Message> awaitType(String type, int count, long timeoutMs) {
        Waits.until(timeoutMs, () -> ofType(type).size() >= count);
        return ofType(type);
    }

    /** Waits until {@code count} messages came in all; returns them (fewer on timeout). */
    public List<Message> awaitCount(int count, long timeoutMs) {
        sub.awaitMessages(count, timeoutMs);
        return messages();
    }

    /** Waits for the first message matching {@code test}; null on timeout. */
    public Message awaitFirst(Predicate<Message> test, long timeoutMs) {
        Message[] found = new Message[1];
        Waits.until(timeoutMs, () -> {
            for (Message message : messages()) {
                if (test.test(message)) {
                    found[0] = message;
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    /** What mosquitto_sub printed, for failure messages. */
    public String describe() {
        StringBuilder text = new StringBuilder();
        for (Message message : messages()) {
            text.append(message).append('\n');
        }
        return text.toString();
    }

    @Override
    public void close() {
        sub.close();
    }
}
