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

/** Publishes a finished run: {@code outgoing/<name>/<run>/model.onnx}, report.json and report.html. Idempotent. */
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

    /** @param succeeded the run in its final SUCCEEDED state; its final model is the newest stage output */
    void publish(RunState succeeded, Instant finishedAt) {
        String prefix = outgoingPrefix(succeeded);
        ArtifactRef finalModel = RunStates.latestModel(succeeded, succeeded.stages().size());
        ArtifactRef output = store.copy(finalModel.key(), prefix + MODEL);
        RunReport report = Reports.report(succeeded, output, finishedAt);
        store.putBytes(prefix + REPORT_JSON, RunReports.toBytes(report), "application/json");
        store.putBytes(prefix + REPORT_HTML, ReportHtml.render(report).getBytes(StandardCharsets.UTF_8), "text/html; charset=utf-8");
    }
}
