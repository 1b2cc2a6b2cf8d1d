package io.modelpress.pipeline.worker;

import io.modelpress.pipeline.Retry;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * How a stage worker behaves (config keys in {@link WorkerConfig}).
 *
 * @param workerId          names this worker in results and logs
 * @param stageTypes        the stage types it runs (kept in the given order); a request of another type is refused
 *                          with a FAILED result
 * @param threads           ONNX Runtime intra-op threads a stage may use
 * @param retry             retries of each transient step (download, run, upload, publish)
 * @param progressInterval  at most one PROGRESS event per this interval
 * @param heartbeatInterval at least one PROGRESS event per this interval while an attempt runs (the last progress
 *                          repeated when nothing changed), so the orchestrator can tell a silent worker from a slow one
 * @param tempDir           where each attempt gets its private folder (removed when the attempt ends)
 * @param cacheMaxBytes     bound of the shared result cache under {@code cache/} in the bucket; 0 switches the cache off
 */
public record WorkerSettings(String workerId, Set<String> stageTypes, int threads, Retry retry, Duration progressInterval,
                             Duration heartbeatInterval, Path tempDir, long cacheMaxBytes) {
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(10);

    /** Settings without the result cache. */
    public WorkerSettings(String workerId, Set<String> stageTypes, int threads, Retry retry, Duration progressInterval,
                          Duration heartbeatInterval, Path tempDir) {
        this(workerId, stageTypes, threads, retry, progressInterval, heartbeatInterval, tempDir, 0);
    }

    public WorkerSettings withCache(long maxBytes) {
        return new WorkerSettings(workerId, stageTypes, threads, retry, progressInterval, heartbeatInterval, tempDir, maxBytes);
    }

    public WorkerSettings {
        stageTypes = Collections.unmodifiableSet(new LinkedHashSet<>(stageTypes));
        if (stageTypes.isEmpty()) {
            throw new IllegalArgumentException("modelpress.worker.stage-types: a worker needs at least one stage type to run");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("modelpress.worker.threads must be at least 1, got " + threads);
        }
        if (heartbeatInterval.isNegative() || heartbeatInterval.isZero()) {
            throw new IllegalArgumentException("modelpress.worker.heartbeat-interval must be longer than zero, got " + heartbeatInterval);
        }
    }
}
