package io.modelpress.worker;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.pipeline.worker.WorkerSettings;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The worker's configuration mapping, read as Quarkus reads it (SmallRye Config with Quarkus' duration syntax). */
class WorkerServiceConfigTest {
    private static final Map<String, String> REQUIRED = Map.of("modelpress.s3.endpoint", "http://s3:9000", "modelpress.s3.access-key", "a",
            "modelpress.s3.secret-key", "s", "modelpress.worker.stage-types", "quantize, convert");

    private static SmallRyeConfig config(Map<String, String> values) {
        Map<String, String> all = new HashMap<>(REQUIRED);
        all.putAll(values);
        all.values().removeIf(String::isEmpty);
        return new SmallRyeConfigBuilder()
                .withConverter(Duration.class, 200, new DurationConverter())
                .withMapping(WorkerServiceConfig.class)
                .withSources(new PropertiesConfigSource(all, "application.properties", 250))
                .withSources(new StageTopicsConfigSource())
                .build();
    }

    private static WorkerServiceConfig mapping(Map<String, String> values) {
        return config(values).getConfigMapping(WorkerServiceConfig.class);
    }

    @Test
    void readsEveryKeyWithItsSyntaxAndDefaults() {
        WorkerServiceConfig config = mapping(Map.of("modelpress.s3.part-size-mib", "32", "modelpress.worker.max-attempts", "5",
                "modelpress.worker.retry-backoff", "250ms", "modelpress.worker.progress-interval", "PT2S",
                "modelpress.worker.heartbeat-interval", "3s", "modelpress.worker.id", "w-1", "modelpress.worker.threads", "3",
                "modelpress.worker.temp-dir", "/var/tmp/mp", "modelpress.metrics.run-series-retention", "1h"));

        S3Settings s3 = config.s3().settings();
        assertThat(s3.endpoint()).isEqualTo("http://s3:9000");
        assertThat(s3.bucket()).isEqualTo(S3Settings.DEFAULT_BUCKET);
        assertThat(s3.partSize()).isEqualTo(32L << 20);
        assertThat(s3.ioTimeout()).isEqualTo(S3Settings.DEFAULT_IO_TIMEOUT);
        WorkerSettings worker = config.worker().settings("quantize-worker");
        assertThat(worker.workerId()).isEqualTo("w-1");
        assertThat(worker.stageTypes()).containsExactly("quantize", "convert");
        assertThat(worker.threads()).isEqualTo(3);
        assertThat(worker.retry().maxAttempts()).isEqualTo(5);
        assertThat(worker.retry().initialBackoff()).isEqualTo(Duration.ofMillis(250));
        assertThat(worker.retry().maxBackoff()).isEqualTo(Duration.ofSeconds(30));
        assertThat(worker.progressInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(worker.heartbeatInterval()).isEqualTo(Duration.ofSeconds(3));
        assertThat(worker.tempDir()).isEqualTo(Path.of("/var/tmp/mp"));
        assertThat(config.worker().sendTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.metrics().runSeriesRetention()).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void defaultsNameTheServiceAndProcessAndUseEveryCpu() {
        WorkerSettings worker = mapping(Map.of()).worker().settings("eval-worker");

        assertThat(worker.workerId()).startsWith("eval-worker-").endsWith("-" + ProcessHandle.current().pid());
        assertThat(worker.threads()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(worker.heartbeatInterval()).isEqualTo(WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL);
        assertThat(worker.tempDir()).isEqualTo(Path.of(System.getProperty("java.io.tmpdir")));
    }

    @Test
    void missingMalformedOrUnknownKeysAreNamed() {
        assertThatThrownBy(() -> mapping(Map.of("modelpress.worker.stage-types", ""))).hasMessageContaining("modelpress.worker.stage-types");
        assertThatThrownBy(() -> mapping(Map.of("modelpress.s3.endpoint", ""))).hasMessageContaining("modelpress.s3.endpoint");
        assertThatThrownBy(() -> mapping(Map.of("modelpress.worker.progress-interval", "soon")))
                .hasMessageContaining("modelpress.worker.progress-interval").hasMessageContaining("soon");
        assertThatThrownBy(() -> mapping(Map.of("modelpress.worker.thread", "2"))).hasMessageContaining("modelpress.worker.thread");
        assertThatThrownBy(() -> mapping(Map.of("modelpress.worker.heartbeat-interval", "0s")).worker().settings("w"))
                .hasMessageContaining("modelpress.worker.heartbeat-interval must be longer than zero");
    }

    @Test
    void requestTopicsFollowFromTheStageTypes() {
        SmallRyeConfig config = config(Map.of());

        assertThat(config.getValues(StageTopicsConfigSource.TOPICS, String.class))
                .containsExactly("modelpress.stage.quantize", "modelpress.stage.convert");
        assertThat(config.getValue(StageTopicsConfigSource.DEAD_LETTER_TOPIC, String.class)).isEqualTo("modelpress.stage.quantize.dlq");
        assertThat(config(Map.of(StageTopicsConfigSource.TOPICS, "modelpress.stage.eval")).getValue(StageTopicsConfigSource.TOPICS, String.class))
                .as("topics set in a file win over the derived ones, and are then checked").isEqualTo("modelpress.stage.eval");
    }

    @Test
    void topicsOtherThanTheStageTypesFailTheStart() {
        WorkerWiring.requireTopicsOf(Set.of("eval"), List.of("modelpress.stage.eval"));

        assertThatThrownBy(() -> WorkerWiring.requireTopicsOf(Set.of("quantize"), List.of("modelpress.stage.quantize", "modelpress.stage.eval")))
                .isInstanceOf(ModelPressException.class)
                .hasMessage(StageTopicsConfigSource.TOPICS + ": is 'modelpress.stage.quantize,modelpress.stage.eval', but "
                        + "modelpress.worker.stage-types 'quantize' needs exactly 'modelpress.stage.quantize': leave the topics "
                        + "unset, they follow from the stage types");
    }
}
