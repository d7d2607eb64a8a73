package org.etkmqtt;

/**
 * An MQTT 3.1.1 client with the API of the Ewon Flexy's
 * {@code com.ewon.ewonitf.MqttClient}: porting a Flexy application is a change
 * of imports. The protocol, TLS, reconnect and queueing run in a native
 * library; this class only checks arguments and forwards calls.
 *
 * <p>Subclass it and implement {@link #callMqttEvent(int)}. Events arrive on
 * one thread per client that the library owns, one at a time; calling any
 * method of this client from inside the callback is allowed.
 *
 * <p>A client holds native threads until {@link #close()} is called: a
 * connected client is running, like a {@link Thread}, until closed. The
 * library refers to it by a number, never a pointer, so a call on a closed
 * client is an {@link EWException}, never a crash; the little native memory
 * a closed client keeps (its status and last error) is freed when the
 * garbage collector finalizes it.
 */
public abstract class MqttClient {
    /** Event code passed to {@link #callMqttEvent(int)}: a message arrived. */
    public static final int MQTT_MESSAGE_EVENT = 0;
    /** Event code passed to {@link #callMqttEvent(int)}: the status changed. */
    public static final int MQTT_STATUS_EVENT = 1;

    /** Status: unknown. */
    public static final int STATUS_UNKNOWN = -1;
    /** Status: {@link #connect()} was called; the client is starting. */
    public static final int STATUS_STARTING = 2;
    /** Status: trying to connect, or waiting to try again after a failure. */
    public static final int STATUS_CONNECTING = 3;
    /** Status: not connected and not trying (before connect, after close). */
    public static final int STATUS_DISCONNECTED = 4;
    /** Status: connected to the broker. */
    public static final int STATUS_CONNECTED = 5;

    private final String mqttId;
    private final String host;
    /** The library's number for this client. */
    private final long handle;

    /**
     * Creates a client. Nothing is sent until {@link #connect()}.
     *
     * @param mqttId the MQTT client identifier (the Flexy uses its serial
     *        number); at most 65535 bytes as UTF-8
     * @param host the broker: a host name, an IPv4 or an IPv6 literal
     * @throws Exception an {@link EWException} when an argument is invalid or
     *         the native library cannot be loaded (the message says which
     *         files were tried)
     */
    public MqttClient(String mqttId, String host) throws Exception {
        if (mqttId == null) {
            throw new EWException("MqttClient: mqttId must not be null");
        }
        if (host == null) {
            throw new EWException("MqttClient: host must not be null");
        }
        NativeLoader.load();
        this.mqttId = mqttId;
        this.host = host;
        this.handle = NativeClient.create(mqttId, host, this);
    }

    /**
     * Sets an option before {@link #connect()}. Names are case-insensitive;
     * see docs/options.md for every option, its values and its default.
     *
     * @param name the option name, for example {@code "PORT"} or {@code "CAFILE"}
     * @param value the value as text
     * @throws EWException for an unknown name, a bad value (the message lists
     *         the accepted values), or when called after {@link #connect()}
     */
    public void setOption(String name, String value) throws EWException {
        if (name == null) {
            throw new EWException("setOption: option name must not be null");
        }
        if (value == null) {
            throw new EWException("setOption: value of option " + name + " must not be null");
        }
        NativeClient.setOption(handle, name, value);
    }

    /**
     * Starts connecting in the background and returns at once. Progress is
     * reported by status events; failures by {@link #getLastError()}. After a
     * failure or a lost connection the client keeps trying again.
     *
     * @throws EWException when the options contradict each other (the message
     *         says how), when already connected, or when closed
     */
    public void connect() throws EWException {
        NativeClient.connect(handle);
    }

    /**
     * Returns the connection status.
     *
     * @return one of {@link #STATUS_STARTING}, {@link #STATUS_CONNECTING},
     *         {@link #STATUS_DISCONNECTED}, {@link #STATUS_CONNECTED}
     *         ({@link #STATUS_DISCONNECTED} once closed)
     * @throws EWException never in this implementation; declared for
     *         compatibility with the Flexy API
     */
    public int getStatus() throws EWException {
        return NativeClient.status(handle);
    }

    /**
     * Returns why the last connection attempt or connection failed, in plain
     * words: for example {@code "TLS: certificate is valid for [localhost],
     * not 127.0.0.1"}. Secrets never appear in it.
     *
     * @return {@code null} until something fails; then the latest cause
     */
    public String getLastError() {
        return NativeClient.lastError(handle);
    }

    /**
     * Counts the messages accepted by {@link #publish} and not yet done: QoS 0
     * not yet written to the connection, QoS 1 not yet acknowledged, QoS 2
     * not yet completed. While disconnected this is the offline queue.
     *
     * @return messages waiting or in flight
     * @throws EWException when closed
     */
    public int getQueuedCount() throws EWException {
        return NativeClient.queuedCount(handle);
    }

    /**
     * Counts the messages the client gave up: dropped to make room (a full
     * store with STOREFULL dropoldest), or set aside because the broker
     * refused one three times in a row ({@link #getLastError()} names its
     * topic). Right after {@link #publish} returns, queued plus dropped
     * accounts for every accepted message not yet delivered.
     *
     * @return messages dropped since the client was created
     * @throws EWException when closed
     */
    public long getDroppedCount() throws EWException {
        return NativeClient.droppedCount(handle);
    }

    /**
     * Subscribes to a topic filter. Subscriptions made before
     * {@link #connect()} are sent on connect, and all are restored after
     * every reconnect.
     *
     * @param topicFilter the filter; {@code +} and {@code #} wildcards allowed
     * @param qos the maximum QoS, 0 to 2
     * @throws EWException for an invalid filter or QoS, or when closed
     */
    public void subscribe(String topicFilter, int qos) throws EWException {
        if (topicFilter == null) {
            throw new EWException("subscribe: topic filter must not be null");
        }
        NativeClient.subscribe(handle, topicFilter, qos);
    }

    /**
     * Removes a subscription; it is no longer restored on reconnect.
     *
     * @param topicFilter the filter exactly as subscribed
     * @throws EWException for an invalid filter, or when closed
     */
    public void unsubscribe(String topicFilter) throws EWException {
        if (topicFilter == null) {
            throw new EWException("unsubscribe: topic filter must not be null");
        }
        NativeClient.unsubscribe(handle, topicFilter);
    }

    /**
     * Takes the oldest received message that has not been read yet. A QoS 1
     * or 2 message is acknowledged to the broker now, not when it arrived:
     * with CLEANSESSION 0 the broker delivers again what was never taken.
     *
     * @return the message, or a message whose topic is {@code null} when none
     *         is waiting
     * @throws EWException when closed
     */
    public MqttMessage readMessage() throws EWException {
        MqttMessage message = NativeClient.readMessage(handle);
        return message != null ? message : new MqttMessage(null, (byte[]) null);
    }

    /**
     * Publishes a message. While not connected, the message waits in the
     * offline queue and is sent on connect, in order.
     *
     * @param msg the message (topic and payload)
     * @param qos 0, 1 or 2
     * @param retain whether the broker keeps it for future subscribers
     * @throws EWException for an invalid topic (empty, wildcards, over 65535
     *         bytes) or QoS, when the offline queue is full, or when closed;
     *         nothing is sent then
     */
    public void publish(MqttMessage msg, int qos, boolean retain) throws EWException {
        if (msg == null) {
            throw new EWException("publish: message must not be null");
        }
        if (msg.getTopic() == null) {
            throw new EWException("publish: topic must not be null");
        }
        NativeClient.publish(handle, msg.getTopic(), msg.getPayload(), qos, retain);
    }

    /**
     * Publishes tag readings as Flexy tag JSON (see {@link TagJson}), all
     * stamped with {@code epochMillis} shifted by the TAGTIMEOFFSET option
     * (minutes, default 0). Encoding happens in the native library: nothing
     * but the arguments is allocated on the Java heap.
     *
     * @param topic the topic to publish to
     * @param names the tag names
     * @param values one value per name: Number, Boolean, String or null
     * @param epochMillis the time of the readings (ms since 1970-01-01 UTC)
     * @param qos 0, 1 or 2
     * @param retain whether the broker keeps it for future subscribers
     * @throws EWException as {@link TagJson#encode} and {@link #publish} do
     */
    public void publishTags(String topic, String[] names, Object[] values, long epochMillis, int qos,
            boolean retain) throws EWException {
        if (topic == null) {
            throw new EWException("publishTags: topic must not be null");
        }
        TagJson.checkArrays(names, values);
        NativeClient.publishTags(handle, topic, names, values, epochMillis, qos, retain);
    }

    /**
     * Disconnects, stops the client's threads and frees its native memory.
     * While connected, it first delivers what is queued (until acknowledged,
     * for at most CONNECTTIMEOUT and never more than 10 s). Messages still
     * queued while disconnected are lost unless STOREDIR keeps them for the
     * next client with the same MqttId.
     * Calling it again does nothing; any other call afterwards throws
     * {@link EWException}, except {@link #getStatus()} and
     * {@link #getLastError()}. May be called from {@link #callMqttEvent(int)}.
     */
    public void close() {
        NativeClient.close(handle);
    }

    /**
     * Frees the library's record of this client (status, last error). Only a
     * closed client can be finalized: an open one is held by its own event
     * thread.
     */
    protected void finalize() throws Throwable {
        try {
            NativeClient.free(handle);
        } finally {
            super.finalize();
        }
    }

    /**
     * Called by the library on its event thread: {@link #MQTT_STATUS_EVENT}
     * after every status change and after every failure that sets
     * {@link #getLastError()} (which it then already returns),
     * {@link #MQTT_MESSAGE_EVENT} once per received
     * message. Never called twice at once for one client. An exception thrown
     * here is printed to stderr and does not stop the client.
     *
     * @param event {@link #MQTT_MESSAGE_EVENT} or {@link #MQTT_STATUS_EVENT}
     */
    public abstract void callMqttEvent(int event);

    /**
     * Describes the client by id and host; never includes secrets.
     *
     * @return a short description
     */
    public String toString() {
        return "MqttClient[id=" + mqttId + ", host=" + host + "]";
    }

    /** For {@link SparkplugNode}: the library's number for this client. */
    long nativeHandle() {
        return handle;
    }
}
