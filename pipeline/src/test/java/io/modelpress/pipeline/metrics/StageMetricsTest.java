package io.modelpress.pipeline.metrics;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class StageMetricsTest {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    @Test
    void prometheusShowsTheBlueprintNames() {
        try (StageMetrics metrics = new StageMetrics(registry)) {
            metrics.finished("quantize", MetricNames.Outcome.SUCCEEDED, Duration.ofSeconds(42));
            metrics.handoff("quantize", "download", Duration.ofMillis(300), 1000);
            metrics.retried("quantize", "upload");
            metrics.deadLettered("quantize");
            metrics.duplicate("quantize");
            try (StageMetrics.Inflight ignored = metrics.started("quantize");
                 StageMetrics.Progress progress = metrics.progress("run-1", "quantize")) {
                progress.set(0.25);
                metrics.modelBytes("run-1", "01-quantize", 123);
                String scrape = registry.scrape();
                assertThat(scrape).contains(
                        "modelpress_stage_inflight{stage=\"quantize\"} 1",
                        "modelpress_stage_progress_ratio{run=\"run-1\",stage=\"quantize\"} 0.25",
                        "modelpress_model_bytes{phase=\"01-quantize\",run=\"run-1\"} 123",
                        "modelpress_stage_duration_seconds_bucket{outcome=\"succeeded\",stage=\"quantize\",le=\"60.0\"} 1",
                        "modelpress_stage_duration_seconds_bucket{outcome=\"succeeded\",stage=\"quantize\",le=\"30.0\"} 0",
                        "modelpress_stage_handoff_seconds_count{phase=\"download\",stage=\"quantize\"} 1",
                        "modelpress_stage_transfer_bytes_total{direction=\"download\",stage=\"quantize\"} 1000",
                        "modelpress_stage_retries_total{phase=\"upload\",stage=\"quantize\"} 1",
                        "modelpress_stage_dead_letters_total{stage=\"quantize\"} 1",
                        "modelpress_stage_duplicates_total{stage=\"quantize\"} 1");
            }
            assertThat(registry.scrape()).contains("modelpress_stage_inflight{stage=\"quantize\"} 0")
                    .doesNotContain("modelpress_stage_progress_ratio{");
        }
    }

    @Test
    void preparedSeriesStartAtZeroSoThatTheFirstEventShowsInRate() {
        try (StageMetrics metrics = new StageMetrics(registry)) {
            metrics.prepare("eval");
            String before = registry.scrape();
            assertThat(before).contains(
                    "modelpress_stage_duration_seconds_count{outcome=\"failed\",stage=\"eval\"} 0",
                    "modelpress_stage_duration_seconds_count{outcome=\"gate_failed\",stage=\"eval\"} 0",
                    "modelpress_stage_retries_total{phase=\"download\",stage=\"eval\"} 0",
                    "modelpress_stage_retries_total{phase=\"dead-letter\",stage=\"eval\"} 0",
                    "modelpress_stage_dead_letters_total{stage=\"eval\"} 0",
                    "modelpress_stage_duplicates_total{stage=\"eval\"} 0",
                    "modelpress_stage_cache_total{result=\"hit\",stage=\"eval\"} 0");
            metrics.deadLettered("eval");
            metrics.finished("eval", MetricNames.Outcome.FAILED, Duration.ofSeconds(2));
            assertThat(registry.scrape()).contains("modelpress_stage_dead_letters_total{stage=\"eval\"} 1",
                    "modelpress_stage_duration_seconds_count{outcome=\"failed\",stage=\"eval\"} 1",
                    "modelpress_stage_duration_seconds_bucket{outcome=\"failed\",stage=\"eval\",le=\"5.0\"} 1");
        }
    }

    @Test
    void runSeriesDisappearAfterTheRetentionWindow() throws InterruptedException {
        try (StageMetrics metrics = new StageMetrics(registry, Duration.ofMillis(200))) {
            metrics.modelBytes("run-2", "01-quantize", 10);
            metrics.modelBytes("run-2", "01-quantize", 20);
            assertThat(registry.scrape()).contains("modelpress_model_bytes{phase=\"01-quantize\",run=\"run-2\"} 20");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (registry.scrape().contains("run-2") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(registry.scrape()).doesNotContain("run-2");
        }
    }
}
