package io.modelpress.pipeline;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Retries transient failures with exponential backoff. A failure is transient unless it is a
 * {@link ModelPressException} whose code is permanent ({@link ErrorCode#permanent()}); permanent failures are
 * thrown at once, and a transient one is thrown as it is after the last attempt.
 *
 * @param maxAttempts    tries in all, at least 1
 * @param initialBackoff the wait after the first failure; doubled after each further one
 * @param maxBackoff     the longest wait
 */
public record Retry(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    public static final Retry DEFAULT = new Retry(3, Duration.ofSeconds(1), Duration.ofSeconds(30));

    public Retry {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
        }
        if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("need 0 <= initialBackoff <= maxBackoff, got " + initialBackoff + ", " + maxBackoff);
        }
    }

    /** Told about each failure that will be retried. */
    @FunctionalInterface
    public interface Listener {
        void retrying(int failedAttempt, ModelPressException failure, Duration wait);

        Listener NONE = (attempt, failure, wait) -> {
        };
    }

    public <T> T call(String what, Supplier<T> action) {
        return call(what, action, Listener.NONE);
    }

    /**
     * Runs {@code action} until it succeeds, fails permanently, or has failed {@link #maxAttempts} times.
     *
     * @param what names the action in the failure's message, e.g. "upload of runs/r1/01-quantize-a1/model.onnx"
     * @throws ModelPressException the permanent failure, or the last transient one
     */
    public <T> T call(String what, Supplier<T> action, Listener listener) {
        Duration wait = initialBackoff;
        for (int attempt = 1; ; attempt++) {
            ModelPressException failure;
            try {
                return action.get();
            } catch (RuntimeException e) {
                failure = classify(e, what);
            }
            if (failure.permanent() || attempt >= maxAttempts) {
                throw failure;
            }
            listener.retrying(attempt, failure, wait);
            sleep(wait, what);
            wait = wait.multipliedBy(2).compareTo(maxBackoff) > 0 ? maxBackoff : wait.multipliedBy(2);
        }
    }

    /**
     * The failure as a {@link ModelPressException}: as it is when it is one, {@link ErrorCode#IO_ERROR} for I/O,
     * {@link ErrorCode#INTERNAL} for anything else (a bug; ErrorCode counts it as transient).
     */
    public static ModelPressException classify(RuntimeException e, String what) {
        if (e instanceof ModelPressException known) {
            return known;
        }
        if (e instanceof UncheckedIOException || e.getCause() instanceof IOException) {
            return new ModelPressException(ErrorCode.IO_ERROR, what, "failed: " + e.getMessage(), e);
        }
        return new ModelPressException(ErrorCode.INTERNAL, what, "failed: " + e, e);
    }

    private static void sleep(Duration wait, String what) {
        try {
            Thread.sleep(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelPressException(ErrorCode.IO_ERROR, what, "interrupted while waiting to retry", e);
        }
    }
}
