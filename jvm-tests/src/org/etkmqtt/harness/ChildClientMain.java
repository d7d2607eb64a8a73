package org.etkmqtt.harness;

import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;

/**
 * The client side of tests that need a separate JVM: killing a connected
 * client with SIGKILL (its will must be published) or reading what the
 * library writes to the process's stderr (LOG option).
 *
 * <p>Arguments: {@code host clientId mode [NAME=VALUE]...}; options are set
 * with setOption. Modes:
 * <ul>
 * <li>{@code hang}: connect, print {@code CONNECTED}, then wait to be killed
 * (at most 120 s).</li>
 * <li>{@code roundtrip:<topic>}: connect, subscribe to the topic, publish to
 * it, print {@code RECEIVED} when the message comes back, close, exit 0.</li>
 * </ul>
 * Status events are printed as {@code STATUS <n>}; failures as
 * {@code FAILED <last error>} with exit code 1.
 */
public final class ChildClientMain {
    private ChildClientMain() {
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        String clientId = args[1];
        String mode = args[2];
        TestClient client = new TestClient(clientId, host);
        client.hook((c, event) -> {
            if (event == MqttClient.MQTT_STATUS_EVENT) {
                System.out.println("STATUS " + c.getStatus());
                System.out.flush();
            }
        });
        client.optionAssignments(args, 3);
        client.connect();
        if (!client.awaitStatus(MqttClient.STATUS_CONNECTED, 15_000)) {
            fail(client);
        }
        System.out.println("CONNECTED");
        System.out.flush();
        if (mode.equals("hang")) {
            Thread.sleep(120_000);
            System.out.println("NOT KILLED");
            System.exit(2);
        } else if (mode.startsWith("roundtrip:")) {
            String topic = mode.substring("roundtrip:".length());
            client.subscribe(topic, 1);
            client.publish(new MqttMessage(topic, "hello from child"), 1, false);
            if (!client.awaitMessages(1, 10_000)) {
                fail(client);
            }
            System.out.println("RECEIVED");
            client.close();
            System.out.flush();
            System.exit(0);
        } else {
            System.out.println("FAILED unknown mode " + mode);
            System.exit(1);
        }
    }

    private static void fail(TestClient client) {
        System.out.println("FAILED " + client.describe());
        System.out.flush();
        client.close();
        System.exit(1);
    }
}
