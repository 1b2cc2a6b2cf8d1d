package io.modelpress.core;

/**
 * The one exception type that crosses ModelPress's public boundaries. Its message is written for the user: it names
 * the problem and, where there is one, the place (node, tensor, file, recipe path) - never just a class name.
 */
public class ModelPressException extends RuntimeException {
    private final ErrorCode code;
    private final String location;
    private final String detail;

    public ModelPressException(ErrorCode code, String message) {
        this(code, null, message, null);
    }

    public ModelPressException(ErrorCode code, String location, String message) {
        this(code, location, message, null);
    }

    public ModelPressException(ErrorCode code, String location, String message, Throwable cause) {
        super(location == null ? message : location + ": " + message, cause);
        this.code = code;
        this.location = location;
        this.detail = message;
    }

    public ErrorCode code() {
        return code;
    }

    /** Where the problem is (e.g. {@code node 'Conv_3'}, {@code tensor 'fc.weight'}), or null. */
    public String location() {
        return location;
    }

    /** The message without its location prefix. */
    public String detail() {
        return detail;
    }

    /** The same problem, reported at a more precise place. */
    public ModelPressException at(String newLocation) {
        return new ModelPressException(code, newLocation, detail, this);
    }

    public boolean permanent() {
        return code.permanent();
    }
}
