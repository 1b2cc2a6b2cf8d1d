package io.modelpress.pipeline.worker;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.store.S3Settings;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerConfigTest {
    private static WorkerConfig config(Map<String, String> values) {
        return new WorkerConfig(key -> Optional.ofNullable(values.get(key)));
    }

    @Test
    void readsEveryKeyWithDefaults() {
        WorkerConfig config = config(Map.of(
                WorkerConfig.S3_ENDPOINT, "http://s3:9000", WorkerConfig.S3_ACCESS_KEY, "a", WorkerConfig.S3_SECRET_KEY, "s",
                WorkerConfig.S3_PART_SIZE_MIB, "32", WorkerConfig.MAX_ATTEMPTS, "5", WorkerConfig.RETRY_BACKOFF, "250ms",
                WorkerConfig.PROGRESS_INTERVAL, "PT2S", WorkerConfig.HEARTBEAT_INTERVAL, "3s", WorkerConfig.WORKER_ID, "w-1",
                WorkerConfig.THREADS, "3"));

        S3Settings s3 = config.s3();
        assertThat(s3.bucket()).isEqualTo("modelpress");
        assertThat(s3.partSize()).isEqualTo(32L << 20);
        WorkerSettings worker = config.worker("quantize-worker");
        assertThat(worker.workerId()).isEqualTo("w-1");
        assertThat(worker.threads()).isEqualTo(3);
        assertThat(worker.retry().maxAttempts()).isEqualTo(5);
        assertThat(worker.retry().initialBackoff()).isEqualTo(Duration.ofMillis(250));
        assertThat(worker.progressInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(worker.heartbeatInterval()).isEqualTo(Duration.ofSeconds(3));
        assertThat(config(Map.of()).worker("w").heartbeatInterval()).isEqualTo(WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL);
        assertThat(config.sendTimeout()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void missingOrMalformedValuesNameTheKeyAndItsEnvironmentVariable() {
        assertThatThrownBy(() -> config(Map.of()).s3())
                .isInstanceOf(ModelPressException.class)
                .hasMessageContaining("modelpress.s3.endpoint", "MODELPRESS_S3_ENDPOINT");
        assertThatThrownBy(() -> config(Map.of(WorkerConfig.PROGRESS_INTERVAL, "soon")).worker("w"))
                .hasMessageContaining("modelpress.worker.progress-interval", "'soon'");
        assertThatThrownBy(() -> config(Map.of(WorkerConfig.HEARTBEAT_INTERVAL, "0s")).worker("w"))
                .hasMessageContaining("modelpress.worker.heartbeat-interval", "longer than zero", "'0s'");
        assertThat(WorkerConfig.environmentName(WorkerConfig.S3_ACCESS_KEY)).isEqualTo("MODELPRESS_S3_ACCESS_KEY");
    }

    @Test
    void defaultWorkerIdNamesServiceAndProcess() {
        assertThat(config(Map.of()).worker("eval-worker").workerId())
                .startsWith("eval-worker-").endsWith("-" + ProcessHandle.current().pid());
    }
}
