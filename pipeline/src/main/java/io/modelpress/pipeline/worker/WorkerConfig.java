package io.modelpress.pipeline.worker;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.S3Settings;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The configuration keys of a stage worker and how they are read. Keys are MicroProfile Config names, so in a
 * Quarkus service each may also come from the environment: upper case, every other character as '_'
 * ({@code modelpress.s3.endpoint} = {@code MODELPRESS_S3_ENDPOINT}). Durations: {@code 500ms}, {@code 10s},
 * {@code 5m}, {@code 2h} or ISO-8601 ({@code PT10S}).
 */
public final class WorkerConfig {
    public static final String S3_ENDPOINT = "modelpress.s3.endpoint";
    public static final String S3_ACCESS_KEY = "modelpress.s3.access-key";
    public static final String S3_SECRET_KEY = "modelpress.s3.secret-key";
    public static final String S3_BUCKET = "modelpress.s3.bucket";
    public static final String S3_REGION = "modelpress.s3.region";
    public static final String S3_PART_SIZE_MIB = "modelpress.s3.part-size-mib";
    public static final String S3_CONNECT_TIMEOUT = "modelpress.s3.connect-timeout";
    public static final String S3_IO_TIMEOUT = "modelpress.s3.io-timeout";

    public static final String WORKER_ID = "modelpress.worker.id";
    public static final String THREADS = "modelpress.worker.threads";
    public static final String MAX_ATTEMPTS = "modelpress.worker.max-attempts";
    public static final String RETRY_BACKOFF = "modelpress.worker.retry-backoff";
    public static final String RETRY_MAX_BACKOFF = "modelpress.worker.retry-max-backoff";
    public static final String PROGRESS_INTERVAL = "modelpress.worker.progress-interval";
    public static final String HEARTBEAT_INTERVAL = "modelpress.worker.heartbeat-interval";
    public static final String TEMP_DIR = "modelpress.worker.temp-dir";
    public static final String SEND_TIMEOUT = "modelpress.worker.send-timeout";
    public static final String RUN_SERIES_RETENTION = "modelpress.metrics.run-series-retention";

    private static final Pattern SIMPLE_DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)");

    private final Function<String, Optional<String>> lookup;

    /** @param lookup a key's value, if set (e.g. {@code key -> config.getOptionalValue(key, String.class)}) */
    public WorkerConfig(Function<String, Optional<String>> lookup) {
        this.lookup = key -> lookup.apply(key).map(String::trim).filter(value -> !value.isEmpty());
    }

    /** System properties first, then environment variables named as MicroProfile Config names them. */
    public static WorkerConfig fromSystem() {
        return new WorkerConfig(key -> Optional.ofNullable(System.getProperty(key)).or(() -> Optional.ofNullable(System.getenv(environmentName(key)))));
    }

    /** {@code modelpress.s3.access-key} -> {@code MODELPRESS_S3_ACCESS_KEY}. */
    public static String environmentName(String key) {
        return key.replaceAll("[^A-Za-z0-9]", "_").toUpperCase(Locale.ROOT);
    }

    public S3Settings s3() {
        return new S3Settings(required(S3_ENDPOINT), required(S3_ACCESS_KEY), required(S3_SECRET_KEY),
                lookup.apply(S3_BUCKET).orElse(S3Settings.DEFAULT_BUCKET),
                lookup.apply(S3_REGION).orElse(S3Settings.DEFAULT_REGION),
                integer(S3_PART_SIZE_MIB, (int) (S3Settings.DEFAULT_PART_SIZE >> 20)) * (1L << 20),
                duration(S3_CONNECT_TIMEOUT, S3Settings.DEFAULT_CONNECT_TIMEOUT),
                duration(S3_IO_TIMEOUT, S3Settings.DEFAULT_IO_TIMEOUT));
    }

    /** @param service names the worker in its default id, e.g. {@code quantize-worker} */
    public WorkerSettings worker(String service) {
        Retry retry = new Retry(integer(MAX_ATTEMPTS, Retry.DEFAULT.maxAttempts()),
                duration(RETRY_BACKOFF, Retry.DEFAULT.initialBackoff()),
                duration(RETRY_MAX_BACKOFF, Retry.DEFAULT.maxBackoff()));
        return new WorkerSettings(
                lookup.apply(WORKER_ID).orElseGet(() -> service + "-" + hostName() + "-" + ProcessHandle.current().pid()),
                integer(THREADS, Runtime.getRuntime().availableProcessors()),
                retry,
                duration(PROGRESS_INTERVAL, Duration.ofSeconds(1)),
                positiveDuration(HEARTBEAT_INTERVAL, WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL),
                Path.of(lookup.apply(TEMP_DIR).orElse(System.getProperty("java.io.tmpdir"))));
    }

    /** How long a final result or dead letter may take to be acknowledged by the broker. */
    public Duration sendTimeout() {
        return duration(SEND_TIMEOUT, Duration.ofSeconds(30));
    }

    public Duration runSeriesRetention() {
        return duration(RUN_SERIES_RETENTION, StageMetrics.DEFAULT_RUN_SERIES_RETENTION);
    }

    private String required(String key) {
        return lookup.apply(key).orElseThrow(() -> new ModelPressException(ErrorCode.BAD_ARGUMENT, key,
                "is not set; set it in application.properties, as -D" + key + "=... or as the environment variable " + environmentName(key)));
    }

    private int integer(String key, int fallback) {
        Optional<String> value = lookup.apply(key);
        if (value.isEmpty()) {
            return fallback;
        }
        try {
            return Integer.parseInt(value.get());
        } catch (NumberFormatException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, key, "must be a whole number, got '" + value.get() + "'");
        }
    }

    private Duration duration(String key, Duration fallback) {
        Optional<String> value = lookup.apply(key);
        return value.isEmpty() ? fallback : parseDuration(key, value.get());
    }

    private Duration positiveDuration(String key, Duration fallback) {
        Duration value = duration(key, fallback);
        if (value.isZero() || value.isNegative()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, key, "must be longer than zero, got '" + lookup.apply(key).orElse("") + "'");
        }
        return value;
    }

    static Duration parseDuration(String key, String text) {
        Matcher simple = SIMPLE_DURATION.matcher(text);
        if (simple.matches()) {
            long amount = Long.parseLong(simple.group(1));
            return switch (simple.group(2)) {
                case "ms" -> Duration.ofMillis(amount);
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                default -> Duration.ofHours(amount);
            };
        }
        try {
            return Duration.parse(text);
        } catch (DateTimeParseException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, key, "must be a duration such as 500ms, 10s, 5m, 2h or PT10S, got '" + text + "'");
        }
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
