import com.ewon.ewonitf.EWException;
import com.ewon.ewonitf.MqttClient;
import com.ewon.ewonitf.MqttMessage;

/**
 * A Flexy application as one would write it for the gateway: it imports
 * com.ewon.ewonitf only, publishes a reading once connected, and prints the
 * first command it receives. On a desktop JVM it runs through
 * compat/ewonitf-desktop.
 *
 * <pre>
 * java -cp ewonitf-desktop.jar:etkmqtt.jar:. FlexyEchoApp HOST PORT SERIAL
 * </pre>
 */
public class FlexyEchoApp extends MqttClient {
    private final String dataTopic;
    private final String commandTopic;
    private boolean published;
    private String received;

    public FlexyEchoApp(String serial, String host, String port) throws Exception {
        super(serial, host);
        dataTopic = "flexy/" + serial + "/data";
        commandTopic = "flexy/" + serial + "/command";
        setOption("port", port);
        setOption("keepalive", "30");
        subscribe(commandTopic, 1);
    }

    public void callMqttEvent(int event) {
        try {
            if (event == MQTT_STATUS_EVENT) {
                if (getStatus() == 5 && !published) {
                    published = true;
                    publish(new MqttMessage(dataTopic, "{\"Temperature\":21.5}"), 1, false);
                    System.out.println("PUBLISHED " + dataTopic);
                }
            } else if (event == MQTT_MESSAGE_EVENT) {
                MqttMessage msg = readMessage();
                if (msg.getTopic() != null) {
                    synchronized (this) {
                        received = msg.getTopic() + " " + new String(msg.getPayload(), "UTF-8");
                        notifyAll();
                    }
                }
            }
        } catch (EWException e) {
            System.out.println("EWException " + e.getMessage());
        } catch (java.io.UnsupportedEncodingException e) {
            System.out.println("encoding " + e.getMessage());
        }
    }

    synchronized String awaitCommand(long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (received == null && System.currentTimeMillis() < deadline) {
            wait(Math.max(1, deadline - System.currentTimeMillis()));
        }
        return received;
    }

    public static void main(String[] args) throws Exception {
        FlexyEchoApp app = new FlexyEchoApp(args[2], args[0], args[1]);
        try {
            try {
                app.setOption("nosuchoption", "1");
            } catch (EWException e) {
                // The Flexy reports bad options as EWException, and so does the desktop jar.
                System.out.println("OPTION ERROR " + e.getMessage());
            }
            app.connect();
            String command = app.awaitCommand(30000);
            System.out.println(command == null ? "NO COMMAND" : "RECEIVED " + command);
        } finally {
            app.close();
        }
    }
}
