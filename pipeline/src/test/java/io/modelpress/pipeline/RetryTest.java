package io.modelpress.pipeline;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RetryTest {
    private final Retry retry = new Retry(4, Duration.ofMillis(1), Duration.ofMillis(3));

    @Test
    void transientFailuresAreRetriedWithDoublingCappedBackoff() {
        List<Duration> waits = new ArrayList<>();
        int[] calls = {0};
        String value = retry.call("fetch", () -> {
            if (++calls[0] < 4) {
                throw new UncheckedIOException(new IOException("reset"));
            }
            return "ok";
        }, (attempt, failure, wait) -> waits.add(wait));

        assertThat(value).isEqualTo("ok");
        assertThat(waits).containsExactly(Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(3));
    }

    @Test
    void permanentFailuresAreNotRetried() {
        int[] calls = {0};
        assertThatThrownBy(() -> retry.call("parse", () -> {
            calls[0]++;
            throw new ModelPressException(ErrorCode.NOT_ONNX, "model.onnx", "is not an ONNX model");
        })).isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_ONNX));
        assertThat(calls[0]).isEqualTo(1);
    }

    @Test
    void theLastTransientFailureIsThrownAfterMaxAttempts() {
        int[] calls = {0};
        assertThatThrownBy(() -> retry.call("upload", () -> {
            throw new ModelPressException(ErrorCode.IO_ERROR, "s3://b/k", "try " + ++calls[0]);
        })).hasMessageContaining("try 4");
        assertThat(calls[0]).isEqualTo(4);
    }

    @Test
    void unknownExceptionsBecomeInternalAndNamedByTheAction() {
        ModelPressException e = Retry.classify(new IllegalStateException("boom"), "run of quantize");
        assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
        assertThat(e.getMessage()).contains("run of quantize", "boom");
    }
}
