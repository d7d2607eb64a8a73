/**
 * Where the gateway reads and writes tag values. On a Flexy, back it with
 * {@code com.ewon.ewonitf.TagControl}; on a desktop, {@link SimulatedTags}
 * stands in for the PLC.
 */
public interface TagSource {
    /** @return the names of the tags to publish, in a fixed order */
    String[] names();

    /**
     * Reads the current values, one per name: Double, Boolean, String or null.
     *
     * @return the values, in the order of {@link #names()}
     */
    Object[] read();

    /**
     * Writes a value received in a command.
     *
     * @param name the tag name
     * @param value a Double, Boolean, String or null
     * @return false when there is no such tag or it cannot take the value
     */
    boolean write(String name, Object value);
}
