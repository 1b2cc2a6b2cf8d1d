package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole compression recipe through the bucket: prune -> distill -> quantize -> eval, each stage on its own worker
 * type (prune-worker, distill-worker, quantize-worker, eval-worker), the distillation trained on the data dropped
 * beside the model, and one outgoing report with all four stages.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class PruneDistillQuantizeIT {
    private static final String RECIPE = """
            name: prune-distill-int8
            stages:
              - prune: { method: structured, ratio: 0.5, criterion: l2 }
              - distill: { steps: 40, batch: 32, learning_rate: 0.01, seed: 1 }
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, size] }
            """;
    private static final int SAMPLES = 256;

    private final E2eStack e2e = E2eStack.shared();

    @Test
    void aPrunedModelIsDistilledAndQuantizedByFourWorkerTypes() throws Exception {
        String name = E2eStack.uniqueName("prune-distill");
        byte[] model = SmallModels.mlp(16, 128, 8, false, 11).toByteArray();
        Random random = new Random(5);
        float[] x = new float[SAMPLES * 16];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        Path npz = Files.createTempDirectory("e2e-distill").resolve("train.npz");
        NpyWriter.writeNpz(npz, Map.of("x", HostArray.of(x, SAMPLES, 16)), false);
        e2e.put("incoming/" + name + "/recipe.yaml", RECIPE);
        e2e.put("incoming/" + name + "/data/train.npz", Files.readAllBytes(npz));
        e2e.put("incoming/" + name + "/model.onnx", model);

        RunState run = e2e.awaitEnd(e2e.awaitRunFor("incoming/" + name + "/model.onnx").runId());

        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
        String outgoing = "outgoing/" + name + "/" + run.runId() + "/";
        RunReport report = RunReports.read(e2e.store.getJson(outgoing + "report.json", JsonNode.class).orElseThrow(), "report.json");
        assertThat(report.stages()).extracting(RunReport.Stage::type).containsExactly("prune", "distill", "quantize", "eval");
        assertThat(report.stages()).extracting(RunReport.Stage::status).containsOnly("SUCCEEDED");
        // each stage was computed by its own worker type
        Map<String, String> workerOf = Map.of("prune", "prune-worker-", "distill", "distill-worker-", "quantize", "quantize-worker-",
                "eval", "eval-worker-");
        assertThat(e2e.finalResults(run.runId(), 4))
                .allSatisfy(r -> assertThat(r.workerId()).as(r.stageType()).startsWith(workerOf.get(r.stageType())))
                .extracting(StageResult::stageType).containsExactlyInAnyOrder("prune", "distill", "quantize", "eval");
        JsonNode distill = report.stages().get(1).report();
        assertThat(distill.path("steps").asLong()).isEqualTo(40);
        // pruned to half the neurons, then int8: well under a third of the bytes (a small model keeps its graph overhead)
        assertThat(report.size().outputBytes()).isLessThan(model.length / 3L);
    }
}
