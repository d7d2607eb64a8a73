package org.etkmqtt.harness;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.etkmqtt.MqttClient;
import org.etkmqtt.SparkplugNode;

/**
 * A Sparkplug edge node in its own JVM, so a test can kill it with SIGKILL
 * (the broker must then publish its NDEATH) and start another on the same
 * STOREDIR.
 *
 * <p>Arguments: {@code host port clientId groupId edgeNodeId [NAME=VALUE]...}
 * (client options). It declares one node metric, connects, prints
 * {@code CONNECTED bdSeq=<n>} once connected, and waits to be killed (at most
 * 120 s). Failures print {@code FAILED <why>} and exit 1.
 */
public final class SparkplugChildMain {
    private SparkplugChildMain() {
    }

    public static ChildJvm start(String host, int port, String clientId, String groupId, String edgeNodeId,
            String... options) {
        List<String> args = new ArrayList<>(Arrays.asList(host, Integer.toString(port), clientId, groupId,
                edgeNodeId));
        args.addAll(Arrays.asList(options));
        return ChildJvm.startMain(SparkplugChildMain.class, args);
    }

    public static void main(String[] args) throws Exception {
        TestClient client = new TestClient(args[2], args[0]);
        client.setOption("PORT", args[1]);
        client.optionAssignments(args, 5);
        SparkplugNode node = new SparkplugNode(client, args[3], args[4]);
        node.setNodeMetrics(new String[] {"Uptime"}, new Object[] {Long.valueOf(0)});
        client.connect();
        if (!client.awaitStatus(MqttClient.STATUS_CONNECTED, 15_000)) {
            System.out.println("FAILED " + client.describe());
            System.exit(1);
        }
        System.out.println("CONNECTED bdSeq=" + node.getBdSeq());
        System.out.flush();
        Thread.sleep(120_000);
        System.out.println("NOT KILLED");
        System.exit(2);
    }
}
