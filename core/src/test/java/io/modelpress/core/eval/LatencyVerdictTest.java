package io.modelpress.core.eval;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The latency verdict of evaluation reports, on real ONNX Runtime sessions: a byte-identical copy is never called
 * faster or slower, and a model with a large extra computation is called slower, with its ratio and spread.
 */
class LatencyVerdictTest {
    static final int FEATURES = 64;
    static final int SAMPLES = 48;
    static final int BATCH = 16;
    static final Duration BUDGET = Duration.ofSeconds(4);

    @TempDir
    Path dir;

    Path data() {
        float[] x = SmallModels.random(new Random(3), SAMPLES * FEATURES, 1);
        Path file = dir.resolve("x.npz");
        NpyWriter.writeNpz(file, Map.of("x", HostArray.of(x, SAMPLES, FEATURES)), false);
        return file;
    }

    Path mlp(String name) {
        Path file = dir.resolve(name);
        OnnxModel.of(SmallModels.mlp(FEATURES, 256, 16, false, 7)).write(file);
        return file;
    }

    /**
     * The same MLP with a large detour whose result reaches the output through a cheap op (y + 1e-6 * mean of the
     * detour), so that ONNX Runtime cannot drop it: about 100 times the MLP's multiply-adds.
     */
    Path mlpWithDetour(String name) {
        ModelProto base = SmallModels.mlp(FEATURES, 256, 16, false, 7);
        GraphProto.Builder g = base.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getName().equals("add2")) {
                g.setNode(i, g.getNode(i).toBuilder().setOutput(0, "y0"));
            }
        }
        Random random = new Random(11);
        int wide = 1024;
        g.addInitializer(Tensors.ofFloats("wa", new long[] {FEATURES, wide}, SmallModels.random(random, FEATURES * wide, 0.1f)))
                .addInitializer(Tensors.ofFloats("wb", new long[] {wide, wide}, SmallModels.random(random, wide * wide, 0.03f)))
                .addInitializer(Tensors.ofFloats("wc", new long[] {wide, wide}, SmallModels.random(random, wide * wide, 0.03f)))
                .addInitializer(Tensors.ofFloats("tiny", new long[] {1}, new float[] {1e-6f}))
                .addNode(Nodes.node("MatMul", "detour1", List.of("x", "wa"), List.of("d1")))
                .addNode(Nodes.node("Relu", "detour1_relu", List.of("d1"), List.of("d1r")))
                .addNode(Nodes.node("MatMul", "detour2", List.of("d1r", "wb"), List.of("d2")))
                .addNode(Nodes.node("Relu", "detour2_relu", List.of("d2"), List.of("d2r")))
                .addNode(Nodes.node("MatMul", "detour3", List.of("d2r", "wc"), List.of("d3")))
                .addNode(Nodes.node("ReduceMean", "detour_mean", List.of("d3"), List.of("d4"), Nodes.attr("axes", new long[] {1}), Nodes.attr("keepdims", 1L)))
                .addNode(Nodes.node("Mul", "detour_scale", List.of("d4", "tiny"), List.of("d5")))
                .addNode(Nodes.node("Add", "detour_join", List.of("y0", "d5"), List.of("y")));
        Path file = dir.resolve(name);
        OnnxModel.of(SmallModels.model(g.build(), 17)).write(file);
        return file;
    }

    EvaluationReport evaluate(Path model, Path reference) {
        return Evaluator.run(EvaluationRequest.of(model, data()).withReference(reference).withBatchSize(BATCH)
                .withSession(SessionSettings.DEFAULT.withThreads(1)).withLatencyBudget(BUDGET));
    }

    @Test
    void aByteIdenticalCopyHasNoMeasurableDifference() throws Exception {
        Path original = mlp("original.onnx");
        Path copy = Files.copy(original, dir.resolve("copy.onnx"));
        assertThat(Files.mismatch(original, copy)).isEqualTo(-1L);

        EvaluationReport report = evaluate(copy, original);

        for (LatencyComparison c : List.of(report.speed().batch1(), report.speed().batchN())) {
            assertThat(c.verdict()).as(c.text()).isEqualTo(LatencyComparison.Verdict.NO_MEASURABLE_DIFFERENCE);
            assertThat(c.pairs()).isBetween(LatencyComparison.MIN_PAIRS, Evaluator.MAX_PAIRS);
            assertThat(c.ratioMin()).isLessThanOrEqualTo(c.ratio());
            assertThat(c.ratioMax()).isGreaterThanOrEqualTo(c.ratio());
            assertThat(c.text()).startsWith("no measurable difference at batch " + c.batch());
        }
        assertThat(report.speed().batch1().batch()).isEqualTo(1);
        assertThat(report.speed().batchN().batch()).isEqualTo(BATCH);
        JsonNode json = report.toJson().get("latency_vs_reference");
        assertThat(json.get("batch_1").get("verdict").asText()).isEqualTo("no measurable difference");
        assertThat(json.get("batch_N").get("batch").asInt()).isEqualTo(BATCH);
        assertThat(json.get("batch_N").get("pairs").asInt()).isGreaterThanOrEqualTo(LatencyComparison.MIN_PAIRS);
        assertThat(report.toText()).contains("speed       no measurable difference at batch 1");
    }

    @Test
    void aModelWithALargeDetourIsSlowerWithItsRatio() {
        Path original = mlp("original.onnx");
        Path slow = mlpWithDetour("slow.onnx");

        EvaluationReport report = evaluate(slow, original);

        assertThat(report.outputs().get("y").cosine().worst()).as("the detour barely touches the output").isGreaterThan(0.9999);
        for (LatencyComparison c : List.of(report.speed().batch1(), report.speed().batchN())) {
            assertThat(c.verdict()).as(c.text()).isEqualTo(LatencyComparison.Verdict.SLOWER);
            assertThat(c.ratio()).as(c.text()).isGreaterThan(1.5);
            assertThat(c.ratioMin()).isGreaterThan(1);
            assertThat(c.text()).matches("\\d+\\.\\d\\dx slower at batch " + c.batch() + " \\(\\d+\\.\\d\\dx-\\d+\\.\\d\\dx in \\d+ session pairs\\)");
        }
        assertThat(report.timings().batchN().p50Ms()).isGreaterThan(report.referenceTimings().batchN().p50Ms());
        JsonNode json = report.toJson().get("latency_vs_reference").get("batch_N");
        assertThat(json.get("verdict").asText()).isEqualTo("slower");
        assertThat(json.get("ratio").asDouble()).isGreaterThan(1.5);
        assertThat(json.get("text").asText()).contains("slower at batch " + BATCH);
        assertThat(report.toText()).containsPattern("speed       \\d+\\.\\d\\dx slower at batch 1 ");
    }

    @Test
    void theOriginalAgainstTheSlowModelIsFaster() {
        Path original = mlp("original.onnx");
        Path slow = mlpWithDetour("slow.onnx");

        LatencyComparison batchN = evaluate(original, slow).speed().batchN();

        assertThat(batchN.verdict()).as(batchN.text()).isEqualTo(LatencyComparison.Verdict.FASTER);
        assertThat(batchN.ratio()).isLessThan(1 / 1.5);
        assertThat(batchN.text()).startsWith(String.format(java.util.Locale.ROOT, "%.2fx faster at batch %d", 1 / batchN.ratio(), BATCH));
    }

    @Test
    void aModelAloneGetsLatencyButNoVerdict() {
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(mlp("alone.onnx"), data()).withBatchSize(BATCH)
                .withSession(SessionSettings.DEFAULT.withThreads(1)).withLatencyBudget(Duration.ofMillis(300)));
        assertThat(report.speed()).isNull();
        assertThat(report.timings().batch1().p50Ms()).isPositive();
        assertThat(report.timings().batch1().p95Ms()).isGreaterThanOrEqualTo(report.timings().batch1().p50Ms());
        assertThat(report.toJson().has("latency_vs_reference")).isFalse();
    }
}
