package org.etkmqtt;

/**
 * The native methods behind {@link SparkplugNode}. A node is a {@code long}
 * handle to a Rust object; {@link SparkplugNode} guarantees that no call uses
 * a handle after {@link #free(long)}. Errors arrive as {@link EWException}.
 */
final class NativeSparkplug {
    private NativeSparkplug() {
    }

    static native long create(long clientHandle, String groupId, String edgeNodeId) throws EWException;

    static native void setNodeMetrics(long handle, String[] names, Object[] values) throws EWException;

    static native void setDeviceMetrics(long handle, String deviceId, String[] names, Object[] values)
            throws EWException;

    static native void publishNodeData(long handle, String[] names, Object[] values, long epochMillis)
            throws EWException;

    static native void publishDeviceData(long handle, String deviceId, String[] names, Object[] values,
            long epochMillis) throws EWException;

    static native void setPrimaryHost(long handle, long clientHandle, String hostId) throws EWException;

    /** Returns {@code null} when the topic is not a command of this node. */
    static native TagValue[] decodeCommand(long handle, String topic, byte[] payload) throws EWException;

    static native long bdSeq(long handle);

    static native int queuedCount(long handle);

    static native long droppedCount(long handle);

    /** Sends DDEATH and NDEATH and stops; the handle stays valid until free. */
    static native void close(long handle) throws EWException;

    static native void free(long handle);
}
