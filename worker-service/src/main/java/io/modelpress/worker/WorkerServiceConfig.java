package io.modelpress.worker;

import io.modelpress.pipeline.store.S3Config;
import io.modelpress.pipeline.worker.WorkerConfig;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/**
 * Everything a stage worker reads from configuration under {@code modelpress.}: worker-service's
 * META-INF/microprofile-config.properties (shared by all workers), the worker's application.properties, environment
 * variables ({@code modelpress.worker.stage-types} is {@code MODELPRESS_WORKER_STAGE_TYPES}) and system properties.
 * Unknown keys under {@code modelpress.} fail the start, so a misspelt key cannot go unnoticed.
 */
@ConfigMapping(prefix = "modelpress")
public interface WorkerServiceConfig {
    S3Config s3();

    WorkerConfig worker();

    Metrics metrics();

    interface Metrics {
        /** How long per-run series (model bytes, progress) stay after a run's last stage on this worker. */
        @WithDefault("5m")
        Duration runSeriesRetention();
    }
}
