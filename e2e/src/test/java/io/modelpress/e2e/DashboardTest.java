package io.modelpress.e2e;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The metric names {@link Dashboard} finds in PromQL: what DashboardQueriesIT compares with the services' /q/metrics,
 * so a function, label or duration taken for a metric would fail it, and a metric missed would go unchecked.
 */
class DashboardTest {

    @Test
    void functionsAggregationsLabelsAndRangesAreNotMetrics() {
        assertThat(Dashboard.metricNames("histogram_quantile(0.95, sum by (le, stage) "
                + "(rate(modelpress_stage_duration_seconds_bucket[$__rate_interval])))"))
                .containsExactly("modelpress_stage_duration_seconds_bucket");
        assertThat(Dashboard.metricNames("max by (job) (kafka_consumer_fetch_manager_records_lag_max{client_id=\"kafka-consumer-requests\"})"))
                .containsExactly("kafka_consumer_fetch_manager_records_lag_max");
        assertThat(Dashboard.metricNames("sum without (instance) (rate(x_total{job=~\"a.*\", le!='1'}[5m:30s] offset 5m)) * 1e3"))
                .containsExactly("x_total");
    }

    @Test
    void bothSidesOfBinaryOperatorsAndRecordingRulesAreMetrics() {
        assertThat(Dashboard.metricNames("modelpress:run_failure_ratio:rate1h > 0.5 and sum(increase(modelpress_runs_total[1h])) >= 4"))
                .containsExactly("modelpress:run_failure_ratio:rate1h", "modelpress_runs_total");
        assertThat(Dashboard.metricNames("a / on (run) group_left (phase) b unless bool c"))
                .containsExactly("a", "b", "c");
        assertThat(Dashboard.metricNames("modelpress_quality_delta")).containsExactly("modelpress_quality_delta");
    }

    @Test
    void intervalVariablesAreReplacedAndOthersRefused() {
        Dashboard.Query query = new Dashboard.Query("Runs", "A", "sum(rate(modelpress_runs_total[$__rate_interval]))");
        assertThat(query.withWindow("1m")).isEqualTo("sum(rate(modelpress_runs_total[1m]))");
        assertThat(query.id()).isEqualTo("Runs [A]");
        assertThatThrownBy(() -> new Dashboard.Query("Runs", "B", "modelpress_runs_active{job=\"$job\"}").withWindow("1m"))
                .hasMessageContaining("Runs [B]").hasMessageContaining("$job");
    }
}
