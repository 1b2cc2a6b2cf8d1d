package io.modelpress.orchestrator;

import io.modelpress.core.report.RunReport;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How much quality a run's compressed model lost against the original so far, for the run metrics: the quality deltas
 * of the run report ({@link RunReport.Evaluation#qualityDelta}) from the last eval stage that reported, with NaN where
 * the report has null (the model returned NaN or infinite values: a NaN must not read as no loss, nor disappear).
 */
final class Quality {
    private Quality() {
    }

    static Map<String, Double> deltas(RunState run) {
        StageStatus last = null;
        for (StageStatus stage : run.stages()) {
            if ("eval".equals(stage.type()) && stage.metrics() != null && stage.metrics().isObject()) {
                last = stage;
            }
        }
        Map<String, Double> deltas = new LinkedHashMap<>();
        if (last != null) {
            RunReport.Evaluation.of(last.index(), last.metrics()).qualityDelta()
                    .forEach((metric, delta) -> deltas.put(metric, delta == null ? Double.NaN : delta));
        }
        return deltas;
    }
}
