import java.util.ArrayList;
import java.util.List;

import org.etkmqtt.EWException;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;
import org.etkmqtt.SparkplugNode;
import org.etkmqtt.TagValue;

/**
 * The demo's tags (the simulated process of examples/flexy-gateway:
 * Temperature, Pressure, Running, Setpoint, Mode) as a Sparkplug B edge node,
 * as Ignition's MQTT Engine and other Sparkplug hosts expect it. The tags are
 * the node's metrics: NBIRTH at every connect, NDATA with the tags that
 * changed every period (report by exception), and NCMD writes applied to the
 * tags. With {@code --storedir}, readings taken while the broker is away are
 * kept on disk and sent as history after the next NBIRTH, and the bdSeq
 * survives restarts.
 *
 * <pre>
 * java -cp etkmqtt.jar:example-classes SparkplugGateway --host 127.0.0.1 [--port 1883] \
 *      [--group Flexy] [--node 1234] [--storedir DIR] [--primary-host HOSTID] \
 *      [--period 5] [--cycles 0] [--psk HEX --identity ID | --cafile CA.pem ...]
 * </pre>
 *
 * Java 1.4 source, as the Flexy requires.
 */
public final class SparkplugGateway extends MqttClient {
    private final TagSource tags;
    private SparkplugNode node;

    SparkplugGateway(String mqttId, String host, TagSource tags) throws Exception {
        super(mqttId, host);
        this.tags = tags;
    }

    /** Events arrive on the library's thread, one at a time. */
    public void callMqttEvent(int event) {
        try {
            if (event == MQTT_STATUS_EVENT) {
                int status = getStatus();
                String error = getLastError();
                log("status " + status + (status != STATUS_CONNECTED && error != null ? " (" + error + ")" : ""));
            } else if (event == MQTT_MESSAGE_EVENT) {
                MqttMessage message = readMessage();
                while (message.getTopic() != null) {
                    applyCommand(message);
                    message = readMessage();
                }
            }
        } catch (EWException e) {
            log("event handling failed: " + e.getMessage());
        }
    }

    private void applyCommand(MqttMessage message) {
        SparkplugNode current = node;
        if (current == null) {
            return;
        }
        try {
            TagValue[] writes = current.decodeCommand(message);
            if (writes == null) {
                return;
            }
            if (writes.length == 0) {
                log("rebirth requested: NBIRTH sent");
            }
            for (int i = 0; i < writes.length; i++) {
                boolean applied = tags.write(writes[i].getName(), writes[i].getValue());
                log((applied ? "applied command " : "ignored command ") + writes[i].getName() + "="
                        + writes[i].getValue());
            }
        } catch (EWException e) {
            log("bad command: " + e.getMessage());
        }
    }

    public static void main(String[] args) throws Exception {
        Arguments arguments = new Arguments(args);
        String host = arguments.get("--host", null);
        if (host == null) {
            System.err.println("usage: SparkplugGateway --host HOST [--port P] [--group G] [--node ID]"
                    + " [--storedir DIR] [--primary-host HOSTID] [--period SECONDS] [--cycles N]"
                    + " [--psk HEX --identity ID | --cafile CA.pem [--certfile C.pem --keyfile K.pem]]");
            System.exit(2);
        }
        String nodeId = arguments.get("--node", "1234");
        String group = arguments.get("--group", "Flexy");
        long periodMillis = Long.parseLong(arguments.get("--period", "5")) * 1000L;
        int cycles = Integer.parseInt(arguments.get("--cycles", "0"));

        TagSource tags = new SimulatedTags();
        SparkplugGateway gateway = new SparkplugGateway("sparkplug-" + group + "-" + nodeId, host, tags);
        gateway.configure(arguments);
        // After the options (STOREDIR), before connect: the first CONNECT carries NDEATH.
        SparkplugNode node = new SparkplugNode(gateway, group, nodeId);
        String[] names = tags.names();
        Object[] last = tags.read();
        node.setNodeMetrics(names, last);
        String primaryHost = arguments.get("--primary-host", null);
        if (primaryHost != null) {
            node.setPrimaryHost(primaryHost);
        }
        gateway.node = node;
        gateway.connect();
        log("edge node " + group + "/" + nodeId + ", bdSeq " + node.getBdSeq());

        try {
            for (int cycle = 1; cycles == 0 || cycle <= cycles; cycle++) {
                Thread.sleep(periodMillis);
                Object[] now = tags.read();
                List changedNames = new ArrayList();
                List changedValues = new ArrayList();
                for (int i = 0; i < names.length; i++) {
                    if (now[i] == null ? last[i] != null : !now[i].equals(last[i])) {
                        changedNames.add(names[i]);
                        changedValues.add(now[i]);
                    }
                }
                last = now;
                if (changedNames.isEmpty()) {
                    continue;
                }
                try {
                    node.publishNodeData((String[]) changedNames.toArray(new String[changedNames.size()]),
                            changedValues.toArray(), System.currentTimeMillis());
                } catch (EWException e) {
                    // Queue full during a long outage: this reading is lost.
                    log("reading not recorded: " + e.getMessage());
                }
            }
        } finally {
            node.close();
            gateway.close();
        }
        log("done");
    }

    private void configure(Arguments arguments) throws EWException {
        String[][] options = {
            {"--port", "PORT"}, {"--psk", "PSK"}, {"--identity", "PSK-IDENTITY"}, {"--cafile", "CAFILE"},
            {"--certfile", "CERTFILE"}, {"--keyfile", "KEYFILE"}, {"--keypassword", "KEYPASSWORD"},
            {"--username", "USERNAME"}, {"--password", "PASSWORD"}, {"--log", "LOG"}, {"--storedir", "STOREDIR"},
        };
        for (int i = 0; i < options.length; i++) {
            String value = arguments.get(options[i][0], null);
            if (value != null) {
                setOption(options[i][1], value);
            }
        }
        setOption("KEEPALIVE", "30");
        setOption("RECONNECTMAX", "10");
    }

    private static void log(String line) {
        System.out.println("[sparkplug] " + line);
        System.out.flush();
    }

    /** {@code --name value} pairs. */
    private static final class Arguments {
        private final String[] args;

        Arguments(String[] args) {
            this.args = args;
        }

        String get(String name, String fallback) {
            for (int i = 0; i + 1 < args.length; i++) {
                if (args[i].equals(name)) {
                    return args[i + 1];
                }
            }
            return fallback;
        }
    }
}
