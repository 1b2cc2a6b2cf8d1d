package io.modelpress.orchestrator;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.modelpress.pipeline.events.RunState;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RunMetricsTest {
    private static final Duration RETENTION = Duration.ofMinutes(15);

    private static RunMetrics metrics(SimpleMeterRegistry registry) {
        RunMetrics metrics = new RunMetrics();
        metrics.registry = registry;
        metrics.store = new RunStore();
        metrics.config = TestConfigs.withRunRetention(RETENTION);
        metrics.registerActiveGauge();
        return metrics;
    }

    @Test
    void perRunSeriesLiveUntilTheRetentionAfterTheRunEnded() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        RunMetrics metrics = metrics(registry);
        RunState running = QualityTest.runWithEval("""
                {"agreement": 0.99, "outputs": {"y": {"cosine": {"mean": 0.999, "min": 0.99}}}}""");
        Instant ended = running.updatedAt().plusSeconds(60);
        RunState succeeded = RunStates.succeeded(running, "outgoing/m/" + running.runId() + "/", ended);

        metrics.changed(null, running, running.updatedAt());
        metrics.changed(running, succeeded, ended);

        String run = running.runId();
        assertThat(registry.get(RunMetrics.MODEL_BYTES).tags("run", run, "phase", "input").gauge().value()).isEqualTo(1000);
        assertThat(registry.get(RunMetrics.MODEL_BYTES).tags("run", run, "phase", "output").gauge().value()).isEqualTo(250);
        assertThat(registry.get(RunMetrics.COMPRESSION_RATIO).tags("run", run).gauge().value()).isEqualTo(4.0);
        assertThat(registry.get(RunMetrics.QUALITY_DELTA).tags("run", run, "metric", "cosine").gauge().value())
                .isCloseTo(-0.001, within(1e-12));
        assertThat(registry.get(RunMetrics.RUNS_TOTAL).tags("outcome", "succeeded").counter().count()).isEqualTo(1);

        metrics.expire(ended.plus(RETENTION).minusSeconds(1));
        assertThat(registry.find(RunMetrics.MODEL_BYTES).tags("run", run).gauges()).hasSize(2);

        metrics.expire(ended.plus(RETENTION));
        assertThat(registry.find(RunMetrics.MODEL_BYTES).tags("run", run).gauges()).isEmpty();
        assertThat(registry.find(RunMetrics.COMPRESSION_RATIO).gauges()).isEmpty();
        assertThat(registry.find(RunMetrics.QUALITY_DELTA).gauges()).isEmpty();
        // the outcome counters are not per run and stay
        assertThat(registry.get(RunMetrics.RUNS_TOTAL).tags("outcome", "succeeded").counter().count()).isEqualTo(1);
    }

    @Test
    void anEndedRunIsCountedOnce() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        RunMetrics metrics = metrics(registry);
        RunState running = QualityTest.runWithEval("{}");
        RunState failed = RunStates.failed(running, "x", running.updatedAt());

        metrics.changed(running, failed, failed.updatedAt());
        metrics.changed(failed, failed, failed.updatedAt());

        assertThat(registry.get(RunMetrics.RUNS_TOTAL).tags("outcome", "failed").counter().count()).isEqualTo(1);
        assertThat(registry.get(RunMetrics.RUNS_TOTAL).tags("outcome", "succeeded").counter().count()).isZero();
    }

    @Test
    void activeRunsAreCountedFromTheStore() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        RunMetrics metrics = metrics(registry);
        RunState running = QualityTest.runWithEval("{}");
        RunState other = RunStates.failed(RunStates.pending("run-00000000000000ff", "n", "api", running.createdAt()), "x",
                running.createdAt());

        metrics.store.restore(List.of(running, other));

        assertThat(registry.get(RunMetrics.RUNS_ACTIVE).gauge().value()).isEqualTo(1);
    }
}
