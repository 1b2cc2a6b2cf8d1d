package io.modelpress.core.prune;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.dynamic.DynamicOptions;
import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * all-MiniLM-L6-v2: attention heads and FFN neurons pruned through the Reshape/Transpose attention pattern this
 * exporter writes (head counts in Concat-built shape constants), judged on mean-pooled sentence embeddings. The hidden
 * width is never pruned: every layer normalizes over it (decomposed LayerNorm).
 */
class MiniLmPruningTest {
    private static List<String> sentences;
    private static float[][] reference;

    @TempDir
    Path dir;

    @BeforeAll
    static void embedWithFp32() throws Exception {
        sentences = SentenceEmbeddings.sentences(256);
        try (SentenceEmbeddings fp32 = new SentenceEmbeddings(ReferenceModels.minilm())) {
            reference = fp32.embed(sentences, 32);
        }
    }

    @Test
    void quarterOfTheHeadsAndThirtyPercentOfFfnNeuronsGoAndTheModelStillEmbeds() throws Exception {
        OnnxModel original = OnnxModel.read(ReferenceModels.minilm());
        OnnxModel model = OnnxModel.read(ReferenceModels.minilm());
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0).withHeads(0.25).withFfn(0.3), CalibrationData.NONE);
        Path pruned = dir.resolve("minilm-pruned.onnx");
        model.write(pruned);

        List<PruneReport.Group> heads = report.groups().stream().filter(g -> g.kind().equals("heads")).toList();
        List<PruneReport.Group> ffn = report.groups().stream().filter(g -> g.kind().equals("neurons") && g.pruned()).toList();
        assertThat(heads).hasSize(6).allSatisfy(g -> {
            assertThat(g.width()).isEqualTo(12);
            assertThat(g.unit()).isEqualTo(32);
            assertThat(g.removed()).isEqualTo(3);
        });
        // 1536 x 0.7 = 1075.2 neurons, kept widths rounded to 8
        assertThat(ffn).hasSize(6).allSatisfy(g -> assertThat(g.width() - g.removed()).isEqualTo(1072));
        PruneReport.Group hidden = StructuredPrunerTest.group(report, "/embeddings/word_embeddings/Gather");
        assertThat(hidden.removed()).isZero();
        assertThat(hidden.reason()).contains("reduces over the pruned axis");
        // the head count written in each layer's Reshape shapes: 12 -> 9, and 384 -> 288 where heads merge back
        List<Long> headCounts = shapeConstants(model, 12L, 9L);
        assertThat(headCounts).containsOnly(9L).hasSize(18);
        assertThat(shapeConstants(model, 384L, 288L)).containsOnly(288L).hasSize(6);
        assertThat(model.inputs()).isEqualTo(original.inputs());
        assertThat(model.outputs()).isEqualTo(original.outputs());
        assertThat((double) report.after().parameters() / report.before().parameters()).isLessThan(0.9);
        assertThat((double) report.after().macs() / report.before().macs()).isLessThan(0.75);

        try (SentenceEmbeddings embeddings = new SentenceEmbeddings(pruned)) {
            double[] cosine = SentenceEmbeddings.cosines(reference, embeddings.embed(sentences, 32));
            System.out.printf("MiniLM heads 0.25 + ffn 0.3 (l1, no fine-tuning): parameters %.3f, MACs %.3f, bytes %.3f of fp32;"
                            + " cosine to fp32 mean %.4f min %.4f over %d sentences%n",
                    (double) report.after().parameters() / report.before().parameters(), (double) report.after().macs() / report.before().macs(),
                    (double) report.after().bytes() / report.before().bytes(), cosine[0], cosine[1], sentences.size());
            assertThat(cosine[0]).as("mean cosine to fp32").isBetween(0.5, 1.0);
            printLatency(embeddings, "heads+ffn");
        }
        OnnxChecker.assertValid(pruned);

        // dynamic int8 still applies on top of the pruned model
        OnnxModel int8 = OnnxModel.read(pruned);
        QuantizationReport quantized = DynamicQuantizer.quantize(int8, DynamicOptions.DEFAULT, CalibrationData.NONE);
        assertThat(quantized.entries().stream().filter(e -> e.quantized() && e.opType().equals("MatMul")).count()).isEqualTo(36);
        Path int8File = dir.resolve("minilm-pruned-int8.onnx");
        int8.write(int8File);
        try (SentenceEmbeddings prunedFp32 = new SentenceEmbeddings(pruned);
             SentenceEmbeddings prunedInt8 = new SentenceEmbeddings(int8File)) {
            double[] cosine = SentenceEmbeddings.cosines(prunedFp32.embed(sentences, 32), prunedInt8.embed(sentences, 32));
            System.out.printf("pruned then int8-dynamic: cosine to the pruned fp32 mean %.4f min %.4f%n", cosine[0], cosine[1]);
            assertThat(cosine[0]).isGreaterThanOrEqualTo(0.99);
        }
    }

    /**
     * Exactness on a real transformer: Q/K/V columns and biases and output-projection rows of three heads per layer,
     * and 30% of the FFN neurons, set to zero; pruning must remove exactly those and leave the embeddings unchanged.
     */
    @Test
    void zeroedHeadsAndNeuronsArePrunedWithoutChangingTheEmbeddings() throws Exception {
        OnnxModel zeroed = OnnxModel.read(ReferenceModels.minilm());
        StructuredPrunerTest.zeroHalfOfEveryGroup(zeroed);
        Path reference = dir.resolve("minilm-zeroed.onnx");
        zeroed.write(reference);
        OnnxModel model = OnnxModel.read(reference);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withRoundTo(1), CalibrationData.NONE);
        Path pruned = dir.resolve("minilm-zeroed-pruned.onnx");
        model.write(pruned);

        assertThat(report.groups().stream().filter(g -> g.kind().equals("heads")).mapToInt(PruneReport.Group::removed).sum()).isEqualTo(36);
        try (SentenceEmbeddings expected = new SentenceEmbeddings(reference);
             SentenceEmbeddings actual = new SentenceEmbeddings(pruned)) {
            List<String> some = sentences.subList(0, 64);
            double[] cosine = SentenceEmbeddings.cosines(expected.embed(some, 16), actual.embed(some, 16));
            assertThat(cosine[1]).as("min cosine to the zeroed original").isGreaterThan(0.99999);
        }
    }

    /**
     * Keeping 4 of 6 layers: the layers are found from the graph; with sample data the two that change their input
     * least go (without data, evenly spaced ones would stay: layers 0, 2, 3, 5 - measured mean cosine 0.77 vs 0.85).
     */
    @Test
    void keepingFourOfTheSixLayersDropsTheLeastInfluentialOnes() throws Exception {
        OnnxModel original = OnnxModel.read(ReferenceModels.minilm());
        OnnxModel model = OnnxModel.read(ReferenceModels.minilm());
        PruneReport report = LayerPruner.prune(model, LayerOptions.keep(4), TextData.calibration(16));
        Path pruned = dir.resolve("minilm-4-layers.onnx");
        model.write(pruned);

        assertThat(report.blocks()).hasSize(6);
        assertThat(report.blocks().get(0).input()).isEqualTo("/embeddings/LayerNorm/Add_1_output_0");
        assertThat(report.blocks().get(5).output()).isEqualTo("last_hidden_state");
        List<Double> influence = java.util.Arrays.stream(report.notes().get("block_influence").replaceAll("[\\[\\] ]", "").split(","))
                .map(Double::parseDouble).toList();
        List<Integer> removed = report.blocks().stream().filter(PruneReport.Block::removed).map(PruneReport.Block::index).toList();
        assertThat(removed).hasSize(2);
        List<Double> sorted = influence.stream().sorted().toList();
        assertThat(removed).allSatisfy(i -> assertThat(influence.get(i)).isLessThanOrEqualTo(sorted.get(1)));
        for (int layer : removed) {
            assertThat(model.graph().getNodeList()).noneMatch(n -> n.getName().startsWith("/encoder/layer." + layer + "/"));
        }
        assertThat(model.inputs()).isEqualTo(original.inputs());
        assertThat(model.outputs()).isEqualTo(original.outputs());
        assertThat((double) report.after().macs() / report.before().macs()).isLessThan(0.7);
        try (SentenceEmbeddings embeddings = new SentenceEmbeddings(pruned)) {
            double[] cosine = SentenceEmbeddings.cosines(reference, embeddings.embed(sentences, 32));
            System.out.printf("MiniLM keeping 4 of 6 layers (dropped %s, block influence %s): parameters %.3f, MACs %.3f of fp32;"
                            + " cosine to fp32 mean %.4f min %.4f%n", removed, influence,
                    (double) report.after().parameters() / report.before().parameters(), (double) report.after().macs() / report.before().macs(),
                    cosine[0], cosine[1]);
            assertThat(cosine[0]).as("mean cosine to fp32").isGreaterThan(0.8);
            printLatency(embeddings, "4 layers");
        }
        OnnxChecker.assertValid(pruned);
    }

    /** Values of the shape constants of Reshapes that held {@code before} in the original and now hold it or {@code after}. */
    private static List<Long> shapeConstants(OnnxModel model, long before, long after) {
        var index = new io.modelpress.core.onnx.GraphIndex(model.graph());
        java.util.List<Long> found = new java.util.ArrayList<>();
        for (NodeProto node : model.graph().getNodeList()) {
            if (!node.getOpType().equals("Concat") || index.consumerNodes(node.getOutput(0)).stream().noneMatch(n -> n.getOpType().equals("Reshape"))) {
                continue;
            }
            for (String part : node.getInputList()) {
                model.constant(part).ifPresent(t -> {
                    long[] v = model.longs(t);
                    if (v.length == 1 && (v[0] == before || v[0] == after)) {
                        found.add(v[0]);
                    }
                });
            }
        }
        return found;
    }

    static void printLatency(SentenceEmbeddings model, String label) throws Exception {
        // latency is measured on request only (-Dmodelpress.latency=true): tests judge behaviour, not speed
        if (Boolean.getBoolean("modelpress.latency")) {
            try (SentenceEmbeddings fp32 = new SentenceEmbeddings(ReferenceModels.minilm())) {
                for (int round = 0; round < 3; round++) {
                    double base = fp32.latencyMillis(32, 128, 5);
                    double ours = model.latencyMillis(32, 128, 5);
                    System.out.printf("latency 32x128, 1 thread: fp32 %.1f ms, %s %.1f ms (%.3f)%n", base, label, ours, ours / base);
                }
            }
        }
    }
}
