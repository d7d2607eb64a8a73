package org.etkmqtt;

/**
 * A Sparkplug B (3.0) edge node on an {@link MqttClient}: what Ignition's MQTT
 * Engine and other Sparkplug host applications expect from a gateway. The
 * node rides on the client's MQTT session:
 * <ul>
 * <li>every CONNECT carries NDEATH as its will, with a {@code bdSeq} one
 * higher than the last (0 to 255, kept across restarts with the client's
 * STOREDIR option);</li>
 * <li>at every connect and reconnect, and when a host sends the
 * {@code Node Control/Rebirth} command, it publishes NBIRTH (with
 * {@code seq} 0, that bdSeq and every node metric) and one DBIRTH per
 * device, with the latest values;</li>
 * <li>{@link #publishNodeData} and {@link #publishDeviceData} send NDATA and
 * DDATA by metric alias, {@code seq} one higher each message; while offline
 * they are queued (durably with STOREDIR) and sent after the next births,
 * marked {@code is_historical}.</li>
 * </ul>
 * Topics are {@code spBv1.0/<groupId>/<NBIRTH|NDATA|NDEATH|NCMD>/<edgeNodeId>}
 * and {@code spBv1.0/<groupId>/<DBIRTH|DDATA|DDEATH|DCMD>/<edgeNodeId>/<deviceId>};
 * see docs/sparkplug.md. All Sparkplug encoding happens in the native library.
 *
 * <p>Create the node after setting the client's options (STOREDIR first) and
 * before {@link MqttClient#connect()}; declare its metrics and devices before
 * connecting too, so that the first NBIRTH has them. Metric values are
 * {@link Integer}, {@link Long}, {@link Float}, {@link Double},
 * {@link Boolean} or {@link String} (Sparkplug Int32, Int64, Float, Double,
 * Boolean, String); a metric keeps the type it was born with. Call
 * {@link #close()} when done: the node holds native memory (and, with
 * STOREDIR, its queue files) until then or until the client is closed.
 */
public final class SparkplugNode {
    private final MqttClient client;
    private final String description;
    /** The library's number for this node; a closed one is an error, never a crash. */
    private final long handle;

    /**
     * Makes {@code client} the session of the edge node
     * {@code groupId}/{@code edgeNodeId}: its will becomes NDEATH (replacing
     * any WILLTOPIC), and it subscribes to
     * {@code spBv1.0/<groupId>/NCMD/<edgeNodeId>} and
     * {@code spBv1.0/<groupId>/DCMD/<edgeNodeId>/+} at QoS 1.
     *
     * @param client the client, not yet connected; a client can carry one node
     * @param groupId the Sparkplug group id (no {@code + / #})
     * @param edgeNodeId the edge node id (no {@code + / #}), unique in the group
     * @throws EWException when an id is invalid, the client is already
     *         connected or carries a node, CLEANSESSION is 0, or the queue store
     *         in STOREDIR cannot be opened; the message says which
     */
    public SparkplugNode(MqttClient client, String groupId, String edgeNodeId) throws EWException {
        if (client == null) {
            throw new EWException("SparkplugNode: client must not be null");
        }
        this.handle = NativeSparkplug.create(client.nativeHandle(), groupId, edgeNodeId);
        this.client = client;
        this.description = "SparkplugNode[" + groupId + "/" + edgeNodeId + "]";
    }

    /**
     * Declares the node's metrics with their current values: the NBIRTH lists
     * them (with {@code bdSeq} and {@code Node Control/Rebirth}). Calling it
     * again replaces the list; when that changes names or types while
     * connected, a new NBIRTH and the DBIRTHs follow.
     *
     * @param names the metric names, for example {@code "Line 1/Temperature"}
     * @param values one non-null value per name; its class sets the datatype
     * @throws EWException for null or duplicate names, a null or unsupported
     *         value, arrays of different lengths, or after {@link #close()}
     */
    public void setNodeMetrics(String[] names, Object[] values) throws EWException {
        NativeSparkplug.setNodeMetrics(handle, names, values);
    }

    /**
     * Declares a device and its metrics with their current values. When
     * connected its DBIRTH goes out at once (after the NBIRTH), and after every
     * NBIRTH from then on.
     *
     * @param deviceId the device id (no {@code + / #})
     * @param names the metric names
     * @param values one non-null value per name; its class sets the datatype
     * @throws EWException as {@link #setNodeMetrics}, or for an invalid device id
     */
    public void setDeviceMetrics(String deviceId, String[] names, Object[] values) throws EWException {
        NativeSparkplug.setDeviceMetrics(handle, deviceId, names, values);
    }

    /**
     * Publishes NDATA with some of the node's metrics, by alias, stamped with
     * {@code epochMillis}. While offline (or while the primary host is
     * offline) it is queued and sent after the next births, marked
     * {@code is_historical}.
     *
     * @param names metrics declared with {@link #setNodeMetrics}
     * @param values one value per name, of the metric's type, or {@code null}
     * @param epochMillis when the values were read, ms since 1970 UTC
     * @throws EWException naming the metric when one was not declared or has
     *         another type; when the queue is full; after {@link #close()}
     */
    public void publishNodeData(String[] names, Object[] values, long epochMillis) throws EWException {
        NativeSparkplug.publishNodeData(handle, names, values, epochMillis);
    }

    /**
     * Publishes DDATA for a declared device; queued like
     * {@link #publishNodeData} while offline.
     *
     * @param deviceId a device declared with {@link #setDeviceMetrics}
     * @param names metrics of that device
     * @param values one value per name, of the metric's type, or {@code null}
     * @param epochMillis when the values were read, ms since 1970 UTC
     * @throws EWException as {@link #publishNodeData}, or for an unknown device
     */
    public void publishDeviceData(String deviceId, String[] names, Object[] values, long epochMillis)
            throws EWException {
        NativeSparkplug.publishDeviceData(handle, deviceId, names, values, epochMillis);
    }

    /**
     * Waits for a primary host application: births wait until
     * {@code spBv1.0/STATE/<hostId>} says online (Sparkplug 3.0 JSON
     * {@code {"online":true,"timestamp":...}} or 2.2 {@code ONLINE}), in every
     * session. When it goes offline the node publishes NDEATH and sends
     * nothing new (data is queued) until it is back. STATE messages are not
     * passed to the application.
     *
     * @param hostId the host's id (Ignition: the MQTT Engine's "Primary Host ID")
     * @throws EWException for an invalid id, or after {@link #close()}
     */
    public void setPrimaryHost(String hostId) throws EWException {
        NativeSparkplug.setPrimaryHost(handle, client.nativeHandle(), hostId);
    }

    /**
     * Decodes an NCMD or DCMD of this node: the metrics a host writes, each as
     * a {@link TagValue} whose name is the metric name ({@code device/metric}
     * for a DCMD), whose value is an Integer, Long, Float, Double, Boolean,
     * String or {@code null}, and whose time is the metric's timestamp in ms
     * since 1970 as decimal text. A Rebirth command is answered by the node
     * itself and is left out (an NCMD with only Rebirth gives an empty array).
     *
     * @param message a received message
     * @return the metrics, or {@code null} when the message is not a command
     *         for this node
     * @throws EWException when the payload is not Sparkplug B or names a
     *         metric alias this node does not have
     */
    public TagValue[] decodeCommand(MqttMessage message) throws EWException {
        if (message == null) {
            throw new EWException("decodeCommand: message must not be null");
        }
        if (message.getTopic() == null) {
            return null;
        }
        return NativeSparkplug.decodeCommand(handle, message.getTopic(), message.getPayload());
    }

    /**
     * Returns the bdSeq of the current session (in its will and NBIRTH); before
     * the first connect, the one the first CONNECT will carry.
     *
     * @return 0 to 255
     */
    public long getBdSeq() {
        return NativeSparkplug.bdSeq(handle);
    }

    /**
     * Counts the readings recorded and not yet sent (the offline queue).
     *
     * @return queued NDATA/DDATA messages
     * @throws EWException after {@link #close()}
     */
    public int getQueuedCount() throws EWException {
        return NativeSparkplug.queuedCount(handle);
    }

    /**
     * Counts the readings dropped: by a full store with STOREFULL dropoldest,
     * and queued readings of an earlier run whose metric or device this run
     * does not declare.
     *
     * @return dropped NDATA/DDATA messages since the node was created
     * @throws EWException after {@link #close()}
     */
    public long getDroppedCount() throws EWException {
        return NativeSparkplug.droppedCount(handle);
    }

    /**
     * Publishes DDEATH for each device and NDEATH (waiting up to 5 s for a
     * connected client to send them), then stops: nothing more is sent or
     * recorded, and queued readings stay in STOREDIR for the next run. The
     * client stays open for the application to close. Calling it again does
     * nothing.
     *
     * @throws EWException when the queue store could not be synced; the node
     *         is closed all the same
     */
    public void close() throws EWException {
        NativeSparkplug.close(handle);
    }

    /** Frees the library's record of this node once it is unreachable. */
    protected void finalize() throws Throwable {
        try {
            NativeSparkplug.free(handle);
        } finally {
            super.finalize();
        }
    }

    public String toString() {
        return description;
    }
}
