package io.modelpress.pipeline.store;

import io.minio.errors.ErrorResponseException;
import io.minio.errors.InsufficientDataException;
import io.minio.errors.InvalidResponseException;
import io.minio.errors.ServerException;
import io.minio.errors.XmlParserException;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;

/**
 * Turns S3 client failures into {@link ModelPressException}s whose code says whether retrying can help:
 * {@link ErrorCode#IO_ERROR} (transient: connection refused or reset, timeouts, 5xx, throttling, a source that
 * changed during a copy) or {@link ErrorCode#BAD_ARGUMENT} (permanent: no such object or bucket, access denied,
 * any other 4xx).
 */
final class StoreErrors {
    private StoreErrors() {
    }

    /**
     * @param place  the object, as {@code s3://bucket/key}
     * @param action what was being done, e.g. "cannot be downloaded"
     */
    static ModelPressException classify(Exception e, String place, String action) {
        if (e instanceof ModelPressException known) {
            return known;
        }
        if (e instanceof ErrorResponseException response) {
            int status = response.response() == null ? 0 : response.response().code();
            String code = response.errorResponse() == null ? "" : response.errorResponse().code();
            if (status == 404 || "NoSuchKey".equals(code) || "NoSuchBucket".equals(code) || "NoSuchObject".equals(code)) {
                return new ModelPressException(ErrorCode.BAD_ARGUMENT, place, action + ": it does not exist (" + code + ")", e);
            }
            if (status == 403 || "AccessDenied".equals(code) || "InvalidAccessKeyId".equals(code)
                    || "SignatureDoesNotMatch".equals(code)) {
                return new ModelPressException(ErrorCode.BAD_ARGUMENT, place,
                        action + ": access denied (" + code + "); check the S3 access key, secret key and bucket policy", e);
            }
            if (status >= 500 || status == 408 || status == 429 || status == 412 || "SlowDown".equals(code)
                    || "RequestTimeout".equals(code) || "InternalError".equals(code)) {
                return transientFailure(e, place, action, "the server answered " + status + " " + code);
            }
            return new ModelPressException(ErrorCode.BAD_ARGUMENT, place,
                    action + ": the server refused the request (" + status + " " + code + ": " + response.getMessage() + ")", e);
        }
        if (e instanceof ServerException server) {
            return transientFailure(e, place, action, "server error " + server.statusCode());
        }
        if (e instanceof InvalidResponseException || e instanceof XmlParserException) {
            return transientFailure(e, place, action, "unreadable server response: " + e.getMessage());
        }
        if (e instanceof InsufficientDataException) {
            return transientFailure(e, place, action, "the stream ended early: " + e.getMessage());
        }
        if (e instanceof ConnectException || e instanceof UnknownHostException) {
            return transientFailure(e, place, action, "cannot connect to the S3 endpoint: " + e.getMessage());
        }
        if (e instanceof SocketTimeoutException || e instanceof InterruptedIOException) {
            return transientFailure(e, place, action, "timed out: " + e.getMessage());
        }
        if (e instanceof IOException) {
            return transientFailure(e, place, action, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        return new ModelPressException(ErrorCode.INTERNAL, place, action + ": " + e, e);
    }

    private static ModelPressException transientFailure(Exception e, String place, String action, String why) {
        return new ModelPressException(ErrorCode.IO_ERROR, place, action + ": " + why, e);
    }
}
