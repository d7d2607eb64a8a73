import org.etkmqtt.EWException;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;
import org.etkmqtt.TagJson;
import org.etkmqtt.TagValue;

/**
 * The Flexy BASIC MQTT example done right: every N seconds it publishes the
 * tags as tag JSON to {@code /topic/flexy/<SERNUM>/data}, and applies the
 * commands it receives on {@code /topic/flexy/<SERNUM>/command}, such as
 * {@code {"tag":"Setpoint","value":42}}. It keeps publishing through broker
 * outages: readings wait in the offline queue and go out on reconnect.
 *
 * <pre>
 * java -cp etkmqtt.jar:flexy-gateway.jar FlexyGateway --host 127.0.0.1 \
 *      --psk 1a2b... --identity gw-1234 [--port 8883] [--sernum 1234] \
 *      [--period 5] [--cycles 0]
 * java ... FlexyGateway --host broker.example --cafile ca.pem [--certfile c.pem --keyfile k.pem]
 * </pre>
 *
 * Java 1.4 source, as the Flexy requires. For the gateway, the jar and the
 * native library are laid out as docs/flexy-deploy.md section 4 says; the
 * arguments are a desktop convenience (whether the Flexy's jvmrun passes
 * any is not documented, section 5.1), so a gateway build reads them from a
 * file in /usr instead.
 */
public final class FlexyGateway extends MqttClient {
    private final TagSource tags;
    private final String commandTopic;

    FlexyGateway(String serial, String host, TagSource tags) throws Exception {
        super(serial, host);
        this.tags = tags;
        this.commandTopic = "/topic/flexy/" + serial + "/command";
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
        if (!commandTopic.equals(message.getTopic())) {
            return;
        }
        try {
            TagValue[] commands = TagJson.decode(message.getPayload());
            for (int i = 0; i < commands.length; i++) {
                boolean applied = tags.write(commands[i].getName(), commands[i].getValue());
                log((applied ? "applied command " : "ignored command ") + commands[i].getName() + "="
                        + commands[i].getValue());
            }
        } catch (EWException e) {
            log("bad command: " + e.getMessage());
        }
    }

    public static void main(String[] args) throws Exception {
        Arguments arguments = new Arguments(args);
        String serial = arguments.get("--sernum", "1234");
        String host = arguments.get("--host", null);
        if (host == null) {
            System.err.println("usage: FlexyGateway --host HOST (--psk HEX --identity ID | --cafile CA.pem"
                    + " [--certfile C.pem --keyfile K.pem]) [--port P] [--sernum S] [--period SECONDS]"
                    + " [--cycles N]");
            System.exit(2);
        }
        long periodMillis = Long.parseLong(arguments.get("--period", "5")) * 1000L;
        int cycles = Integer.parseInt(arguments.get("--cycles", "0"));

        TagSource tags = new SimulatedTags();
        FlexyGateway gateway = new FlexyGateway(serial, host, tags);
        gateway.configure(arguments);
        gateway.subscribe(gateway.commandTopic, 1);
        gateway.connect();

        String dataTopic = "/topic/flexy/" + serial + "/data";
        try {
            for (int cycle = 1; cycles == 0 || cycle <= cycles; cycle++) {
                try {
                    gateway.publishTags(dataTopic, tags.names(), tags.read(), System.currentTimeMillis(), 1, false);
                } catch (EWException e) {
                    // Offline queue full during a long outage: this reading is
                    // lost, the next ones are tried again.
                    log("reading not queued: " + e.getMessage());
                }
                Thread.sleep(periodMillis);
            }
        } finally {
            gateway.close();
        }
        log("done");
    }

    private void configure(Arguments arguments) throws EWException {
        String[][] options = {
            {"--port", "PORT"}, {"--psk", "PSK"}, {"--identity", "PSK-IDENTITY"}, {"--cafile", "CAFILE"},
            {"--certfile", "CERTFILE"}, {"--keyfile", "KEYFILE"}, {"--keypassword", "KEYPASSWORD"},
            {"--username", "USERNAME"}, {"--password", "PASSWORD"}, {"--log", "LOG"},
        };
        for (int i = 0; i < options.length; i++) {
            String value = arguments.get(options[i][0], null);
            if (value != null) {
                setOption(options[i][1], value);
            }
        }
        setOption("KEEPALIVE", "30");
        setOption("WILLTOPIC", "/topic/flexy/" + getSerial() + "/status");
        setOption("WILLPAYLOAD", "offline");
        setOption("WILLRETAIN", "1");
    }

    private String getSerial() {
        return commandTopic.substring("/topic/flexy/".length(), commandTopic.length() - "/command".length());
    }

    private static void log(String line) {
        System.out.println("[gateway] " + line);
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
