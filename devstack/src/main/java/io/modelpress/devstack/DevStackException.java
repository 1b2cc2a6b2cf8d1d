package io.modelpress.devstack;

/**
 * The stack could not be started, stopped or inspected. The message is meant for a person: it names the service,
 * the port or file involved and, for a crashed start, quotes the exit code and the last lines of the service's log.
 */
public final class DevStackException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DevStackException(String message) {
        super(message);
    }

    public DevStackException(String message, Throwable cause) {
        super(message, cause);
    }
}
