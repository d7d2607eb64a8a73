package org.etkmqtt;

/** The native methods behind {@link TagJson}. */
final class NativeTagJson {
    private NativeTagJson() {
    }

    static native String encode(String[] names, Object[] values, long epochMillis, int utcOffsetMinutes)
            throws EWException;

    static native TagValue[] decode(byte[] payload) throws EWException;
}
