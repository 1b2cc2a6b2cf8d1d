package io.modelpress.orchestrator;

/** A request the API refuses, with the HTTP status and the {code, message} body to answer with. */
public class ApiException extends RuntimeException {
    private final int status;
    private final String code;

    public ApiException(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    static ApiException notFound(String runId) {
        return new ApiException(404, "NOT_FOUND", "run '" + runId + "' does not exist");
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}
