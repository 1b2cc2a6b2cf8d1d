package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Every API error is JSON {code, message}: 400 for unusable input, 404 unknown run, 409 conflicts, 503 transient. */
public class ErrorMappers {
    private static final Logger LOG = Logger.getLogger(ErrorMappers.class);

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

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        LOG.error("Unexpected error in the API", e);
        return error(500, "INTERNAL", "internal error: " + e.getClass().getSimpleName() + " (see the orchestrator's log)");
    }

    static Response error(int status, String code, String message) {
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(new ApiError(code, message)).build();
    }
}
