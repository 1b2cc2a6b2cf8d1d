package io.modelpress.orchestrator;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import jakarta.inject.Inject;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.Optional;

/**
 * Every API error is JSON {code, message}: 400 for unusable input, 404 unknown run, 409 conflicts, 503 transient, 500
 * for the orchestrator's own trouble (IO_ERROR naming the path, or INTERNAL).
 */
public class ErrorMappers {
    private static final Logger LOG = Logger.getLogger(ErrorMappers.class);

    @Inject
    UploadsDirectory uploads;

    /** The body of every error answer. */
    public record ApiError(String code, String message) {
    }

    @ServerExceptionMapper
    public Response api(ApiException e) {
        return error(e.status(), e.code(), e.getMessage());
    }

    @ServerExceptionMapper
    public Response modelPress(ModelPressException e) {
        // permanent: the request's content is unusable; otherwise S3 or Kafka trouble that may pass
        return error(e.permanent() ? 400 : 503, e.code().name(), e.getMessage());
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        return error(status, status == 404 ? "NOT_FOUND" : "HTTP_" + status, e.getMessage());
    }

    /**
     * Anything else. A local I/O failure (frameworks wrap them, e.g. an upload that cannot be stored) is answered
     * with the path and the reason, never only with an exception's name.
     */
    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        Optional<IOException> io = IoErrors.find(e);
        if (io.isPresent()) {
            String file = io.get() instanceof FileSystemException fs ? fs.getFile() : null;
            String message = "I/O error: " + IoErrors.describe(io.get()) + uploads.explain(file);
            LOG.error(message, e);
            return error(500, ErrorCode.IO_ERROR.name(), message);
        }
        LOG.error("Unexpected error in the API", e);
        return error(500, "INTERNAL", "internal error: " + e.getClass().getSimpleName() + " (see the orchestrator's log)");
    }

    static Response error(int status, String code, String message) {
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(new ApiError(code, message)).build();
    }
}
