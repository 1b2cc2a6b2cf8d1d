package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A model dropped with a prune + quantize + eval recipe: the prune-worker removes neurons, the quantize-worker
 * quantizes what is left, the eval-worker judges it against the original, and the outgoing report has every stage.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class PruneQuantizeIT {
    private static final String RECIPE = """
            name: prune-int8
            stages:
              - prune: { method: structured, ratio: 0.5, criterion: l2 }
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, size] }
            """;

    private final E2eStack e2e = E2eStack.shared();

    @Test
    void thePruneWorkerAndTheQuantizeWorkerBothWorkOnTheDroppedModel() throws Exception {
        String name = E2eStack.uniqueName("prune");
        byte[] model = E2eStack.mlp(64, 256, 16, 5);
        e2e.put("incoming/" + name + "/recipe.yaml", RECIPE);
        e2e.put("incoming/" + name + "/model.onnx", model);

        RunState run = e2e.awaitEnd(e2e.awaitRunFor("incoming/" + name + "/model.onnx").runId());

        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
        String outgoing = "outgoing/" + name + "/" + run.runId() + "/";
        RunReport report = RunReports.read(e2e.store.getJson(outgoing + "report.json", JsonNode.class).orElseThrow(), "report.json");
        assertThat(report.stages()).extracting(RunReport.Stage::type).containsExactly("prune", "quantize", "eval");
        assertThat(report.stages()).extracting(RunReport.Stage::status).containsOnly("SUCCEEDED");
        JsonNode prune = report.stages().get(0).report();
        assertThat(prune.path("method").asText()).isEqualTo("structured");
        assertThat(prune.path("changed").asBoolean()).isTrue();
        // the hidden layer of 256 neurons loses half of them: parameters and MACs about halve
        assertThat(prune.path("after").path("parameters").asLong()).isLessThan(prune.path("before").path("parameters").asLong() * 6 / 10);
        assertThat(prune.path("after").path("macs").asLong()).isLessThan(prune.path("before").path("macs").asLong() * 6 / 10);
        assertThat(report.stages().get(1).report().path("unchanged").asBoolean()).isFalse();
        // pruned, then int8: far under the bytes of either alone
        assertThat(report.size().outputBytes()).isLessThan(model.length / 5L);

        // each stage was computed by its own worker type
        List<StageResult> finals = e2e.finalResults(run.runId(), 3);
        assertThat(finals).filteredOn(r -> r.stageType().equals("prune")).singleElement()
                .satisfies(r -> assertThat(r.workerId()).startsWith("prune-worker-"));
        assertThat(finals).filteredOn(r -> r.stageType().equals("quantize")).singleElement()
                .satisfies(r -> assertThat(r.workerId()).startsWith("quantize-worker-"));

        // judged independently: the outgoing model keeps the interface and runs in ONNX Runtime
        Path dir = Files.createTempDirectory("e2e-prune");
        Path compressed = e2e.store.get(e2e.store.stat(outgoing + "model.onnx").orElseThrow(), dir.resolve("model.onnx"));
        assertThat(OnnxModel.read(compressed).outputs().get(0).name()).isEqualTo("y");
        float[] y = Ort.runFirstOutput(compressed, Map.of("x", new Ort.Floats(SmallModels.random(new Random(3), 4 * 64, 1f), 4, 64)));
        assertThat(y).hasSize(4 * 16);
    }
}
