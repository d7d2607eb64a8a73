package com.ewon.ewonitf;

/**
 * Desktop stand-in for the Flexy's {@code com.ewon.ewonitf.MqttClient}, so
 * that a Flexy application and its unit tests run unchanged on a desktop JVM
 * against a real broker. Every call forwards to an {@code org.etkmqtt}
 * client; its exceptions become {@link EWException} with the same message.
 *
 * <p>Only the Flexy's API is offered here, nothing of etkmqtt's additions:
 * code that compiles against this jar compiles on the Flexy too. This jar is
 * for desktop JVMs only; it never goes onto the gateway, which has its own
 * {@code com.ewon.ewonitf}.
 */
public abstract class MqttClient {
    /** Event code passed to {@link #callMqttEvent(int)}: a message arrived. */
    public static final int MQTT_MESSAGE_EVENT = org.etkmqtt.MqttClient.MQTT_MESSAGE_EVENT;
    /** Event code passed to {@link #callMqttEvent(int)}: the status changed. */
    public static final int MQTT_STATUS_EVENT = org.etkmqtt.MqttClient.MQTT_STATUS_EVENT;

    private final org.etkmqtt.MqttClient client;

    /** The etkmqtt client; its events go to the enclosing client's callMqttEvent. */
    private final class Forwarding extends org.etkmqtt.MqttClient {
        Forwarding(String mqttId, String host) throws Exception {
            super(mqttId, host);
        }

        public void callMqttEvent(int event) {
            MqttClient.this.callMqttEvent(event);
        }
    }

    /**
     * @param mqttId the MQTT client identifier
     * @param host the broker's host name or address
     * @throws Exception an {@link EWException} for an invalid argument or
     *         when the etkmqtt native library cannot be loaded
     */
    public MqttClient(String mqttId, String host) throws Exception {
        try {
            client = new Forwarding(mqttId, host);
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /**
     * @param name the option name, for example {@code "port"}
     * @param value the value as text
     * @throws EWException for an unknown name or a bad value
     */
    public void setOption(String name, String value) throws EWException {
        try {
            client.setOption(name, value);
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /** @throws EWException when the options contradict each other, or when closed */
    public void connect() throws EWException {
        try {
            client.connect();
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /**
     * @return the connection status (5 when connected)
     * @throws EWException declared as on the Flexy
     */
    public int getStatus() throws EWException {
        try {
            return client.getStatus();
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /**
     * @param topicFilter the filter; {@code +} and {@code #} allowed
     * @param qos the maximum QoS, 0 to 2
     * @throws EWException for an invalid filter or QoS, or when closed
     */
    public void subscribe(String topicFilter, int qos) throws EWException {
        try {
            client.subscribe(topicFilter, qos);
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /**
     * @return the oldest unread message, or one whose topic is {@code null}
     * @throws EWException when closed
     */
    public MqttMessage readMessage() throws EWException {
        try {
            org.etkmqtt.MqttMessage message = client.readMessage();
            return new MqttMessage(message.getTopic(), message.getPayload());
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /**
     * @param msg the message
     * @param qos 0, 1 or 2
     * @param retain whether the broker keeps it for future subscribers
     * @throws EWException for an invalid topic or QoS, a full queue, or when closed
     */
    public void publish(MqttMessage msg, int qos, boolean retain) throws EWException {
        if (msg == null) {
            throw new EWException("publish: message must not be null");
        }
        try {
            client.publish(new org.etkmqtt.MqttMessage(msg.getTopic(), msg.getPayload()), qos, retain);
        } catch (org.etkmqtt.EWException e) {
            throw translate(e);
        }
    }

    /** Disconnects and frees the client's threads and native memory; calling it again does nothing. */
    public void close() {
        client.close();
    }

    /**
     * Called on the client's event thread: {@link #MQTT_STATUS_EVENT} after
     * each status change, {@link #MQTT_MESSAGE_EVENT} once per message.
     *
     * @param event the event code
     */
    public abstract void callMqttEvent(int event);

    private static EWException translate(org.etkmqtt.EWException e) {
        return new EWException(e.getMessage());
    }
}
