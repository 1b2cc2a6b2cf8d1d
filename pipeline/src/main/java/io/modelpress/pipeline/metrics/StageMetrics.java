package io.modelpress.pipeline.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.modelpress.pipeline.metrics.MetricNames.Outcome;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The stage worker's meters on a Micrometer registry (names in {@link MetricNames}). Thread-safe. */
public final class StageMetrics implements AutoCloseable {
    /** Stages take seconds to hours: explicit buckets keep the histogram small and meaningful. */
    private static final Duration[] STAGE_BUCKETS = durations(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200);
    private static final Duration[] HANDOFF_BUCKETS = durations(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300);
    /** What a worker retries: running the stage, moving artifacts, checking for an earlier result, publishing. */
    public static final List<String> RETRY_PHASES = List.of("run", "download", "upload", "check", "publish", "dead-letter");
    /** What a result-cache lookup or store can come to. */
    public static final List<String> CACHE_RESULTS = List.of("hit", "miss", "stored");
    public static final Duration DEFAULT_RUN_SERIES_RETENTION = Duration.ofMinutes(5);

    private final MeterRegistry registry;
    private final Duration runSeriesRetention;
    private final Map<String, AtomicInteger> inflight = new ConcurrentHashMap<>();
    private final Map<Tags, RunSeries> runSeries = new ConcurrentHashMap<>();
    private final ScheduledExecutorService remover = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "modelpress-metrics-retention");
        thread.setDaemon(true);
        return thread;
    });

    /**
     * @param runSeriesRetention how long a run-labelled series ({@link MetricNames#MODEL_BYTES}) stays after it
     *                           was last set: long enough for a few scrapes, short enough to keep cardinality bounded
     */
    public StageMetrics(MeterRegistry registry, Duration runSeriesRetention) {
        this.registry = registry;
        this.runSeriesRetention = runSeriesRetention;
    }

    public StageMetrics(MeterRegistry registry) {
        this(registry, DEFAULT_RUN_SERIES_RETENTION);
    }

    /** Meters kept in memory only (the CLI, tests that do not look at metrics). */
    public static StageMetrics inMemory() {
        return new StageMetrics(new SimpleMeterRegistry());
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Counts a stage attempt as running until the returned handle is closed. */
    public Inflight started(String stage) {
        AtomicInteger count = inflight.computeIfAbsent(stage, s -> {
            AtomicInteger value = new AtomicInteger();
            Gauge.builder(MetricNames.STAGE_INFLIGHT, value, AtomicInteger::get)
                    .description("Stage attempts running now")
                    .tag("stage", s)
                    .register(registry);
            return value;
        });
        count.incrementAndGet();
        return count::decrementAndGet;
    }

    /** Counts down {@link MetricNames#STAGE_INFLIGHT} when closed. */
    @FunctionalInterface
    public interface Inflight extends AutoCloseable {
        @Override
        void close();
    }

    public void finished(String stage, Outcome outcome, Duration duration) {
        durationTimer(stage, outcome).record(duration);
    }

    /**
     * Registers a stage type's outcome, retry, dead-letter, duplicate and cache series at zero. A series that first
     * appears at its first event hides that event from {@code rate()} and {@code increase()}, which need two samples:
     * the dashboard would show a worker's first failure or cache hit as nothing.
     */
    public void prepare(String stage) {
        for (Outcome outcome : Outcome.values()) {
            durationTimer(stage, outcome);
        }
        for (String phase : RETRY_PHASES) {
            retries(stage, phase);
        }
        deadLetters(stage);
        duplicates(stage);
        for (String result : CACHE_RESULTS) {
            cacheCounter(stage, result);
        }
    }

    private Timer durationTimer(String stage, Outcome outcome) {
        return Timer.builder(MetricNames.STAGE_DURATION)
                .description("Stage attempts from request to final result")
                .tags("stage", stage, "outcome", outcome.label())
                .serviceLevelObjectives(STAGE_BUCKETS)
                .register(registry);
    }

    /** A {@link MetricNames#STAGE_PROGRESS} series for one run's stage, removed when closed. */
    public Progress progress(String run, String stage) {
        ProgressValue value = new ProgressValue();
        Gauge gauge = Gauge.builder(MetricNames.STAGE_PROGRESS, value, ProgressValue::get)
                .description("Progress of the running stage attempt, 0..1")
                .tags("run", run, "stage", stage)
                .strongReference(true)
                .register(registry);
        return new Progress(registry, gauge, value);
    }

    /** A progress gauge's handle: set it while the stage runs, close it when the attempt ends. */
    public static final class Progress implements AutoCloseable {
        private final MeterRegistry registry;
        private final Gauge gauge;
        private final ProgressValue value;

        private Progress(MeterRegistry registry, Gauge gauge, ProgressValue value) {
            this.registry = registry;
            this.gauge = gauge;
            this.value = value;
        }

        public void set(double fraction) {
            value.fraction = fraction;
        }

        @Override
        public void close() {
            registry.remove(gauge);
        }
    }

    private static final class ProgressValue {
        private volatile double fraction;

        double get() {
            return fraction;
        }
    }

    /** Sets {@link MetricNames#MODEL_BYTES}; the series disappears {@code runSeriesRetention} after its last update. */
    public synchronized void modelBytes(String run, String phase, long bytes) {
        Tags tags = Tags.of("run", run, "phase", phase);
        RunSeries series = runSeries.get(tags);
        if (series == null) {
            AtomicLong value = new AtomicLong();
            Gauge gauge = Gauge.builder(MetricNames.MODEL_BYTES, value, AtomicLong::get)
                    .description("Size of a run's model after a phase (bytes)")
                    .tags(tags)
                    .register(registry);
            series = new RunSeries(value, gauge);
            runSeries.put(tags, series);
        }
        series.value.set(bytes);
        series.expiresAtNanos = System.nanoTime() + runSeriesRetention.toNanos();
        remover.schedule(() -> expire(tags), runSeriesRetention.toMillis(), TimeUnit.MILLISECONDS);
    }

    private synchronized void expire(Tags tags) {
        RunSeries series = runSeries.get(tags);
        // a later update moved the expiry on; its own scheduled check will remove the series
        if (series != null && System.nanoTime() - series.expiresAtNanos >= 0) {
            runSeries.remove(tags);
            registry.remove(series.gauge);
        }
    }

    private static final class RunSeries {
        private final AtomicLong value;
        private final Gauge gauge;
        private long expiresAtNanos;

        private RunSeries(AtomicLong value, Gauge gauge) {
            this.value = value;
            this.gauge = gauge;
        }
    }

    public void handoff(String stage, String phase, Duration duration, long bytes) {
        Timer.builder(MetricNames.STAGE_HANDOFF)
                .description("Artifact transfers between a worker and the store")
                .tags("stage", stage, "phase", phase)
                .serviceLevelObjectives(HANDOFF_BUCKETS)
                .register(registry)
                .record(duration);
        Counter.builder(MetricNames.STAGE_TRANSFER_BYTES)
                .description("Bytes moved between a worker and the store")
                .tags("stage", stage, "direction", phase)
                .register(registry)
                .increment(bytes);
    }

    /** @param phase one of {@link #RETRY_PHASES} */
    public void retried(String stage, String phase) {
        retries(stage, phase).increment();
    }

    public void deadLettered(String stage) {
        deadLetters(stage).increment();
    }

    /** @param result one of {@link #CACHE_RESULTS} */
    public void cache(String stage, String result) {
        cacheCounter(stage, result).increment();
    }

    public void duplicate(String stage) {
        duplicates(stage).increment();
    }

    private Counter retries(String stage, String phase) {
        return counter(MetricNames.STAGE_RETRIES, "Transient failures that were retried", "stage", stage, "phase", phase);
    }

    private Counter deadLetters(String stage) {
        return counter(MetricNames.STAGE_DEAD_LETTERS, "Requests sent to the dead-letter topic", "stage", stage);
    }

    private Counter cacheCounter(String stage, String result) {
        return counter(MetricNames.STAGE_CACHE, "Result cache lookups and stores", "stage", stage, "result", result);
    }

    private Counter duplicates(String stage) {
        return counter(MetricNames.STAGE_DUPLICATES, "Requests whose attempt had already finished", "stage", stage);
    }

    private Counter counter(String name, String description, String... tags) {
        return Counter.builder(name).description(description).tags(tags).register(registry);
    }

    @Override
    public void close() {
        remover.shutdownNow();
    }

    private static Duration[] durations(double... seconds) {
        Duration[] out = new Duration[seconds.length];
        for (int i = 0; i < seconds.length; i++) {
            out[i] = Duration.ofMillis(Math.round(seconds[i] * 1000));
        }
        return out;
    }
}
