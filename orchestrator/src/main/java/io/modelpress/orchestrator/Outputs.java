package io.modelpress.orchestrator;

import io.modelpress.core.report.ReportHtml;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.store.ArtifactStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Publishes a finished run: {@code outgoing/<name>/<run>/model.onnx}, report.json and report.html. Idempotent. A run
 * that tuned publishes its chosen candidate, also when no candidate met the goal (the run is FAILED, the closest kept).
 */
@ApplicationScoped
public class Outputs {
    static final String MODEL = "model.onnx";
    static final String REPORT_JSON = RunReports.JSON_FILE;
    static final String REPORT_HTML = RunReports.HTML_FILE;

    @Inject
    ArtifactStore store;

    static String outgoingPrefix(RunState run) {
        return "outgoing/" + run.name() + "/" + run.runId() + "/";
    }

    /**
     * @param ended the run in its final state, SUCCEEDED (or FAILED after tuning); its final model is the newest output
     *              of its stages (those of the chosen candidate)
     */
    void publish(RunState ended, Instant finishedAt) {
        String prefix = outgoingPrefix(ended);
        ArtifactRef finalModel = RunStates.latestModel(ended, ended.stages().size());
        ArtifactRef output = store.copy(finalModel.key(), prefix + MODEL);
        RunReport report = Reports.report(ended, output, finishedAt);
        store.putBytes(prefix + REPORT_JSON, RunReports.toBytes(report), "application/json");
        store.putBytes(prefix + REPORT_HTML, ReportHtml.render(report).getBytes(StandardCharsets.UTF_8), "text/html; charset=utf-8");
    }
}
