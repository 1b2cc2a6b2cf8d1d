package io.modelpress.pipeline.worker;

import io.modelpress.pipeline.Retry;
import io.smallrye.config.WithDefault;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Collectors;

/**
 * A stage worker's configuration keys ({@code modelpress.worker.*}): a group of the worker service's
 * {@code @ConfigMapping}, so SmallRye Config parses and checks them (durations such as {@code 500ms}, {@code 10s},
 * {@code 5m} or {@code PT10S}) and each may come from the environment ({@code MODELPRESS_WORKER_STAGE_TYPES}).
 * Defaults equal {@link Retry#DEFAULT} and {@link WorkerSettings#DEFAULT_HEARTBEAT_INTERVAL}.
 */
public interface WorkerConfig {
    /**
     * The stage types this worker runs, e.g. {@code quantize,convert}: it consumes their topics, and refuses a request
     * of any other type. Each must be a stage type this process finds (core's, or a jar's on MODELPRESS_STAGE_PATH).
     */
    List<String> stageTypes();

    /** Names this worker in results and logs; default {@code <service>-<host>-<pid>}. */
    Optional<String> id();

    /** ONNX Runtime intra-op threads a stage may use; default all CPUs. */
    OptionalInt threads();

    /** Tries of each transient step (download, run, upload, publish) before the request is dead-lettered. */
    @WithDefault("3")
    int maxAttempts();

    @WithDefault("1s")
    Duration retryBackoff();

    @WithDefault("30s")
    Duration retryMaxBackoff();

    /** At most one PROGRESS event per this interval. */
    @WithDefault("1s")
    Duration progressInterval();

    /** At least one PROGRESS event per this interval while a stage runs (the orchestrator's stall detection). */
    @WithDefault("10s")
    Duration heartbeatInterval();

    /** Where each attempt gets its private folder; default {@code java.io.tmpdir}. */
    Optional<String> tempDir();

    /**
     * Bound of the result cache the workers share under {@code cache/} in the bucket: a stage whose inputs (by
     * SHA-256), settings and code were computed before is answered from it; least recently used entries are deleted
     * beyond this many bytes; 0 switches it off.
     */
    @WithDefault("10737418240")
    long cacheMaxBytes();

    /** How long a final result or dead letter may take to be acknowledged by the broker. */
    @WithDefault("30s")
    Duration sendTimeout();

    /** @param service names the worker in its default id, e.g. {@code quantize-worker} */
    default WorkerSettings settings(String service) {
        return new WorkerSettings(id().orElseGet(() -> service + "-" + hostName() + "-" + ProcessHandle.current().pid()),
                stageTypes().stream().map(String::trim).filter(type -> !type.isEmpty()).collect(Collectors.toCollection(LinkedHashSet::new)),
                threads().orElse(Runtime.getRuntime().availableProcessors()),
                new Retry(maxAttempts(), retryBackoff(), retryMaxBackoff()), progressInterval(), heartbeatInterval(),
                Path.of(tempDir().orElse(System.getProperty("java.io.tmpdir"))), cacheMaxBytes());
    }

    private static String hostName() {
        // Kubernetes sets HOSTNAME to the pod name; a DNS lookup can stall where it is not set
        String fromEnvironment = System.getenv("HOSTNAME");
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            return fromEnvironment;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "unknown-host";
        }
    }
}
