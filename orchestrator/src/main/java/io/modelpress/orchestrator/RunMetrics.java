package io.modelpress.orchestrator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.modelpress.core.stage.Stages;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.metrics.MetricNames;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The orchestrator's Prometheus metrics. {@code modelpress_runs_total{outcome}} counts runs that ended in this
 * process's lifetime; {@code modelpress_runs_active} is the number of runs not yet ended. The per-run series
 * ({@code modelpress_model_bytes{run,phase}} with phase input and output, {@code modelpress_compression_ratio{run}},
 * {@code modelpress_quality_delta{run,metric}}) exist while a run is active and for a retention window after it
 * ended, then are removed, so their number stays bounded however many runs the cluster sees; the lasting record of a
 * run is its report.json. {@code modelpress_stage_stalls_total{stage}} counts attempts given up because their worker
 * went silent, and {@code modelpress_stage_stalled{stage}} is the number of stages whose next attempt no worker has
 * taken yet (both by stage type, from 0).
 */
@ApplicationScoped
public class RunMetrics {
    static final String RUNS_TOTAL = "modelpress.runs";
    static final String RUNS_ACTIVE = "modelpress.runs.active";
    static final String MODEL_BYTES = MetricNames.MODEL_BYTES;
    static final String COMPRESSION_RATIO = "modelpress.compression.ratio";
    static final String QUALITY_DELTA = "modelpress.quality.delta";
    static final String DUPLICATE_DROPS = "modelpress.intake.duplicates";
    static final String IGNORED_RESULTS = "modelpress.results.ignored";
    static final String STAGE_STALLS = "modelpress.stage.stalls";
    static final String STAGES_STALLED = "modelpress.stage.stalled";

    @Inject
    MeterRegistry registry;

    @Inject
    RunStore store;

    @Inject
    OrchestratorConfig config;

    /** Per-run gauges: run id -> series name + tags -> value holder; and when each ended run's series go away. */
    private final Map<String, Map<String, AtomicReference<Double>>> values = new ConcurrentHashMap<>();
    private final Map<String, List<Meter>> meters = new ConcurrentHashMap<>();
    private final Map<String, Instant> expiries = new ConcurrentHashMap<>();
    /** Stage types whose stall series are registered. */
    private final Set<String> stallSeries = ConcurrentHashMap.newKeySet();

    @PostConstruct
    void registerActiveGauge() {
        Gauge.builder(RUNS_ACTIVE, store, s -> s.all().stream().filter(r -> !r.state().terminal()).count())
                .description("Runs that have not ended (pending or running)")
                .register(registry);
        for (String outcome : List.of("succeeded", "failed", "cancelled")) {
            outcomeCounter(outcome); // present at 0 from the start, so rate() works from the first run
        }
        Stages.types().forEach(this::stallCounter);
    }

    private Counter outcomeCounter(String outcome) {
        return Counter.builder(RUNS_TOTAL).description("Runs that ended, by outcome").tag("outcome", outcome).register(registry);
    }

    void duplicateDrop() {
        Counter.builder(DUPLICATE_DROPS).description("Bucket events for objects that already have a run").register(registry).increment();
    }

    void ignoredResult(String reason) {
        Counter.builder(IGNORED_RESULTS).description("Stage results not acted on: late, stale or for unknown runs")
                .tag("reason", reason).register(registry).increment();
    }

    /** A RUNNING attempt of a stage type was given up because its worker went silent. */
    void stalled(String stageType) {
        stallCounter(stageType).increment();
    }

    /** Registers the stall series of a stage type (at 0 before its first stall, so rate() and increase() see it). */
    private Counter stallCounter(String stageType) {
        if (stallSeries.add(stageType)) {
            stalledGauge(stageType);
        }
        return Counter.builder(STAGE_STALLS).description("Attempts given up because their worker sent no heartbeat for stall-after")
                .tag("stage", stageType).register(registry);
    }

    private void stalledGauge(String stageType) {
        Gauge.builder(STAGES_STALLED, store, s -> s.all().stream().filter(r -> !r.state().terminal())
                        .flatMap(r -> r.stages().stream())
                        .filter(st -> st.status() == RunState.StageStatusValue.STALLED && st.type().equals(stageType)).count())
                .description("Stages whose worker went silent and whose next attempt no worker has taken yet")
                .tag("stage", stageType).register(registry);
    }

    /** Called after every persisted change (not for states read back at start-up). */
    void changed(RunState previous, RunState next, Instant now) {
        if (next.state().terminal() && (previous == null || !previous.state().terminal())) {
            outcomeCounter(next.state().name().toLowerCase(java.util.Locale.ROOT)).increment();
            expiries.put(next.runId(), now.plus(config.metrics().runSeriesRetention()));
        }
        if (next.input() == null) {
            return;
        }
        String run = next.runId();
        // the workers add each stage's output (phase "<NN>-<type>") and the stage progress
        set(run, MODEL_BYTES, "phase", "input", next.input().bytes());
        ArtifactRef latest = RunStates.latestModel(next, next.stages().size());
        if (latest != next.input() && latest.bytes() > 0) {
            set(run, MODEL_BYTES, "phase", "output", latest.bytes());
            set(run, COMPRESSION_RATIO, null, null, (double) next.input().bytes() / latest.bytes());
        }
        Quality.deltas(next).forEach((metric, delta) -> set(run, QUALITY_DELTA, "metric", metric, delta));
    }

    /** Start-up: series for the runs that are still active, as they were before the restart. */
    void restored(Instant now) {
        for (RunState run : store.all()) {
            if (!run.state().terminal()) {
                changed(run, run, now);
            }
        }
    }

    /** Removes the per-run series of runs that ended longer than the retention window ago. */
    void expire(Instant now) {
        expiries.forEach((run, expiry) -> {
            if (!now.isBefore(expiry)) {
                expiries.remove(run);
                values.remove(run);
                List<Meter> runMeters = meters.remove(run);
                if (runMeters != null) {
                    runMeters.forEach(registry::remove);
                }
            }
        });
    }

    private void set(String run, String name, String tag, String tagValue, double value) {
        String id = name + "|" + tag + "=" + tagValue;
        Map<String, AtomicReference<Double>> runValues = values.computeIfAbsent(run, r -> new ConcurrentHashMap<>());
        AtomicReference<Double> holder = runValues.get(id);
        if (holder == null) {
            AtomicReference<Double> created = new AtomicReference<>(value);
            Gauge.Builder<AtomicReference<Double>> gauge = Gauge.builder(name, created, AtomicReference::get).tag("run", run);
            if (tag != null) {
                gauge.tag(tag, tagValue);
            }
            meters.computeIfAbsent(run, r -> new ArrayList<>()).add(gauge.register(registry));
            runValues.put(id, created);
        } else {
            holder.set(value);
        }
    }
}
