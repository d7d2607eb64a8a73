package com.ewon.ewonitf;

/**
 * Desktop stand-in for the Flexy's {@code com.ewon.ewonitf.EWException}:
 * thrown by every {@link MqttClient} call that fails, with the message of the
 * {@code org.etkmqtt.EWException} it translates.
 */
public class EWException extends Exception {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed and why
     */
    public EWException(String message) {
        super(message);
    }
}
