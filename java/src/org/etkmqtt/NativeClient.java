package org.etkmqtt;

/**
 * The native methods behind {@link MqttClient}. A client is a {@code long}
 * handle to a Rust object; {@link MqttClient} guarantees that no call uses a
 * handle after {@link #free(long)}. Errors arrive as {@link EWException}.
 */
final class NativeClient {
    private NativeClient() {
    }

    static native long create(String mqttId, String host, MqttClient eventTarget) throws EWException;

    static native void setOption(long handle, String name, String value) throws EWException;

    static native void connect(long handle) throws EWException;

    static native int status(long handle);

    static native String lastError(long handle);

    static native int queuedCount(long handle);

    static native long droppedCount(long handle);

    static native void subscribe(long handle, String topicFilter, int qos) throws EWException;

    static native void unsubscribe(long handle, String topicFilter) throws EWException;

    /** Returns {@code null} when no message is waiting. */
    static native MqttMessage readMessage(long handle) throws EWException;

    static native void publish(long handle, String topic, byte[] payload, int qos, boolean retain)
            throws EWException;

    static native void publishTags(long handle, String topic, String[] names, Object[] values,
            long epochMillis, int qos, boolean retain) throws EWException;

    /** Disconnects and stops the threads; the handle stays valid until free. */
    static native void close(long handle);

    static native void free(long handle);
}
