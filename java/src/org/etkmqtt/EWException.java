package org.etkmqtt;

/**
 * Thrown by every etkmqtt call that fails. The message names what was wrong
 * and why, for example {@code "invalid value for option PORT: '70000' is not
 * a port number (1-65535)"}. Mirrors {@code com.ewon.ewonitf.EWException}.
 */
public class EWException extends Exception {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a message that explains the failure.
     *
     * @param message what failed and why
     */
    public EWException(String message) {
        super(message);
    }
}
