package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.SequenceMajorLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

class SequenceMajorLayoutTest {
    private static final int HIDDEN = 16;
    private static final int HEADS = 2;
    private static final int HEAD = HIDDEN / HEADS;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void attentionReadsQueryKeyValueInPlaceWithTheSameOutputs(boolean mergedProjection) {
        OnnxModel model = OnnxModel.of(SmallModels.model(encoder(2, mergedProjection, new Random(3)), 17));
        Path before = dir.resolve("before.onnx");
        Path after = dir.resolve("after.onnx");
        model.write(before);

        PassResult result = new SequenceMajorLayout().apply(model);
        model.write(after);

        assertThat(result.changedModel()).as(result.notes().toString()).isTrue();
        assertThat(result.changes()).as("attention transposes folded into the batched products").isEqualTo(6);
        OnnxChecker.assertValid(after);
        for (int[] shape : new int[][] {{3, 5}, {1, 4}, {2, 1}}) {
            Tokens tokens = Tokens.random(shape[0], shape[1], new Random(shape[0] * 31L + shape[1]));
            List<float[]> expected = run(before, tokens);
            List<float[]> actual = run(after, tokens);
            assertThat(actual).hasSameSizeAs(expected);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(actual.get(i)).containsExactly(expected.get(i), offset(1e-5f));
            }
        }
        // ONNX Runtime now folds the Q, K and V transposes into its batched products: fewer Transposes run
        Map<String, Integer> opsBefore = OptimizedGraph.opCounts(before);
        Map<String, Integer> opsAfter = OptimizedGraph.opCounts(after);
        assertThat(opsAfter.getOrDefault("Transpose", 0)).isLessThan(opsBefore.getOrDefault("Transpose", 0));
        assertThat(opsAfter.getOrDefault("com.microsoft:FusedMatMul", 0)).isEqualTo(4);
    }

    @Test
    void oneLayerIsLeftAloneBecauseTheLayoutWouldAddMoreTransposesThanItSaves() {
        assertLeftAlone(OnnxModel.of(SmallModels.model(encoder(1, false, new Random(3)), 17)), "transposes to save 3");
    }

    @Test
    void modelsWithoutTokenInputsAreLeftAlone() {
        assertLeftAlone(OnnxModel.of(SmallModels.mlp(8, 16, 4, false, 1)), "[batch, sequence]");
    }

    private static void assertLeftAlone(OnnxModel model, String reason) {
        GraphProto original = model.graph().build();

        PassResult result = new SequenceMajorLayout().apply(model);

        assertThat(result.changedModel()).isFalse();
        assertThat(result.notes().get(SequenceMajorLayout.NAME)).startsWith("batch-major kept: ").contains(reason);
        assertThat(model.graph().build()).isEqualTo(original);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void theDynamicQuantizerUsesTheLayoutUnlessTheRecipeTurnsItOff(boolean on) {
        StageSpec spec = RecipeParser.parse("stages:\n  - quantize: { mode: dynamic" + (on ? "" : ", sequence_major: false") + " }\n",
                "test.yaml").stages().get(0);
        OnnxModel model = OnnxModel.of(SmallModels.model(encoder(2, false, new Random(3)), 17));

        QuantizationReport report = DynamicQuantizer.quantize(model, spec, tokenBatches());

        if (on) {
            assertThat(report.notes().get("layout")).startsWith("sequence-major token layout: 6 attention transposes");
            assertThat(model.graph().getNodeList()).anyMatch(n -> n.getOpType().equals("MatMulInteger"));
        } else {
            assertThat(report.notes()).doesNotContainKey("layout");
        }
        OnnxModel dataFree = OnnxModel.of(SmallModels.model(encoder(2, false, new Random(3)), 17));
        // without data the rewrite is checked on made-up token ids (below the embedding table's size) and masks
        String dataFreeNote = DynamicQuantizer.quantize(dataFree, spec, CalibrationData.NONE).notes().get("layout");
        if (on) {
            assertThat(dataFreeNote).startsWith("sequence-major token layout: 6 attention transposes");
        } else {
            assertThat(dataFreeNote).isNull();
        }
    }

    /** Four batches of random token ids with a padded tail, as a tokenizer would give them. */
    static CalibrationData tokenBatches() {
        return (maxSamples, consumer) -> {
            Random random = new Random(5);
            for (int batch = 0; batch < 4; batch++) {
                Map<String, OnnxTensor> feeds = Tokens.random(2, 6 + batch, random).tensors();
                try {
                    consumer.accept(feeds, 2);
                } catch (OrtException e) {
                    throw new IllegalStateException(e);
                } finally {
                    feeds.values().forEach(OnnxTensor::close);
                }
            }
        };
    }

    /**
     * A BERT-like encoder: token and position embeddings, LayerNorm, then per layer Q/K/V projections reshaped to heads
     * (Q through a Shape-built target, K and V through constant ones), masked softmax attention and a residual. Outputs:
     * the token states and their mean over the sequence (an operator that needs the original layout). With
     * {@code mergedProjection}, Q, K and V come from one MatMul and a Split along the hidden axis, as in GPT-2 exports.
     */
    static GraphProto encoder(int layers, boolean mergedProjection, Random random) {
        return encoder(layers, mergedProjection, -10000f, random);
    }

    /** The same encoder with {@code maskConstant} for masked keys (HuggingFace exports use the lowest float). */
    static GraphProto encoder(int layers, boolean mergedProjection, float maskConstant, Random random) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("encoder")
                .addInput(Nodes.tensorInfo("ids", DataType.INT64, "batch", "sequence"))
                .addInput(Nodes.tensorInfo("mask", DataType.FLOAT, "batch", "sequence"))
                .addOutput(Nodes.tensorInfo("hidden", DataType.FLOAT, "batch", "sequence", HIDDEN))
                .addOutput(Nodes.tensorInfo("pooled", DataType.FLOAT, "batch", HIDDEN));
        g.addInitializer(Tensors.ofFloats("word_table", new long[] {50, HIDDEN}, SmallModels.random(random, 50 * HIDDEN, 1f)));
        g.addInitializer(Tensors.ofFloats("position_table", new long[] {32, HIDDEN}, SmallModels.random(random, 32 * HIDDEN, 1f)));
        long[] positions = new long[32];
        for (int i = 0; i < positions.length; i++) {
            positions[i] = i;
        }
        g.addInitializer(Tensors.ofLongs("position_ids", new long[] {1, 32}, positions));
        g.addInitializer(Tensors.ofLongs("zero", new long[] {1}, new long[] {0}));
        g.addInitializer(Tensors.ofLongs("one", new long[] {1}, new long[] {1}));
        g.addInitializer(Tensors.scalarLong("axis0", 0));
        g.addInitializer(Tensors.scalarLong("axis1", 1));
        g.addInitializer(Tensors.ofLongs("heads", new long[] {1}, new long[] {HEADS}));
        g.addInitializer(Tensors.ofLongs("head", new long[] {1}, new long[] {HEAD}));
        g.addInitializer(Tensors.ofLongs("to_heads", new long[] {4}, new long[] {0, 0, HEADS, HEAD}));
        g.addInitializer(Tensors.ofLongs("to_hidden", new long[] {3}, new long[] {0, 0, HIDDEN}));
        g.addInitializer(Tensors.ofLongs("mask_axes", new long[] {2}, new long[] {1, 2}));
        g.addInitializer(Tensors.scalarFloat("one_f", 1f));
        g.addInitializer(Tensors.scalarFloat("minus_big", maskConstant));
        g.addInitializer(Tensors.scalarFloat("sqrt_head", (float) Math.sqrt(HEAD)));
        g.addInitializer(Tensors.ofFloats("gamma", new long[] {HIDDEN}, SmallModels.random(random, HIDDEN, 1f)));
        g.addInitializer(Tensors.ofFloats("beta", new long[] {HIDDEN}, SmallModels.random(random, HIDDEN, 1f)));

        g.addNode(Nodes.node("Gather", "word", List.of("word_table", "ids"), List.of("words")));
        g.addNode(Nodes.node("Shape", "ids_shape", List.of("ids"), List.of("ids_shape")));
        g.addNode(Nodes.node("Gather", "seq_len", List.of("ids_shape", "one"), List.of("seq_len")));
        g.addNode(Nodes.node("Slice", "positions", List.of("position_ids", "zero", "seq_len", "one"), List.of("positions")));
        g.addNode(Nodes.node("Gather", "position", List.of("position_table", "positions"), List.of("position_vectors")));
        g.addNode(Nodes.node("Add", "embed", List.of("words", "position_vectors"), List.of("embedded")));
        g.addNode(Nodes.node("LayerNormalization", "embed_norm", List.of("embedded", "gamma", "beta"), List.of("x0"), Nodes.attr("axis", -1L)));
        g.addNode(Nodes.node("Unsqueeze", "mask_unsqueeze", List.of("mask", "mask_axes"), List.of("mask4")));
        g.addNode(Nodes.node("Sub", "mask_invert", List.of("one_f", "mask4"), List.of("mask_inverted")));
        g.addNode(Nodes.node("Mul", "mask_scale", List.of("mask_inverted", "minus_big"), List.of("mask_add")));

        String x = "x0";
        for (int l = 0; l < layers; l++) {
            String p = "l" + l + "_";
            for (String proj : List.of("q", "k", "v", "o")) {
                g.addInitializer(Tensors.ofFloats(p + "w" + proj, new long[] {HIDDEN, HIDDEN}, SmallModels.random(random, HIDDEN * HIDDEN, 0.3f)));
                g.addInitializer(Tensors.ofFloats(p + "b" + proj, new long[] {HIDDEN}, SmallModels.random(random, HIDDEN, 0.3f)));
            }
            if (mergedProjection) {
                g.addInitializer(Tensors.ofFloats(p + "wqkv", new long[] {HIDDEN, 3 * HIDDEN}, SmallModels.random(random, 3 * HIDDEN * HIDDEN, 0.3f)));
                g.addNode(Nodes.node("MatMul", p + "qkv_mm", List.of(x, p + "wqkv"), List.of(p + "qkv")));
                g.addNode(Nodes.node("Split", p + "qkv_split", List.of(p + "qkv"), List.of(p + "q", p + "k", p + "v"), Nodes.attr("axis", 2L)));
            } else {
                for (String proj : List.of("q", "k", "v")) {
                    g.addNode(Nodes.node("MatMul", p + proj + "_mm", List.of(x, p + "w" + proj), List.of(p + proj + "_xw")));
                    g.addNode(Nodes.node("Add", p + proj + "_bias", List.of(p + proj + "_xw", p + "b" + proj), List.of(p + proj)));
                }
            }
            // Q: the exporter's Shape -> Gather -> Unsqueeze -> Concat target
            g.addNode(Nodes.node("Shape", p + "q_shape", List.of(p + "q"), List.of(p + "q_shape")));
            g.addNode(Nodes.node("Gather", p + "q_batch", List.of(p + "q_shape", "axis0"), List.of(p + "q_batch")));
            g.addNode(Nodes.node("Gather", p + "q_seq", List.of(p + "q_shape", "axis1"), List.of(p + "q_seq")));
            g.addNode(Nodes.node("Unsqueeze", p + "q_batch_1d", List.of(p + "q_batch", "zero"), List.of(p + "q_batch_1d")));
            g.addNode(Nodes.node("Unsqueeze", p + "q_seq_1d", List.of(p + "q_seq", "zero"), List.of(p + "q_seq_1d")));
            g.addNode(Nodes.node("Concat", p + "q_target", List.of(p + "q_batch_1d", p + "q_seq_1d", "heads", "head"), List.of(p + "q_target"),
                    Nodes.attr("axis", 0L)));
            g.addNode(Nodes.node("Reshape", p + "q_heads", List.of(p + "q", p + "q_target"), List.of(p + "q_heads")));
            g.addNode(Nodes.node("Reshape", p + "k_heads", List.of(p + "k", "to_heads"), List.of(p + "k_heads")));
            g.addNode(Nodes.node("Reshape", p + "v_heads", List.of(p + "v", "to_heads"), List.of(p + "v_heads")));
            g.addNode(Nodes.node("Transpose", p + "q_t", List.of(p + "q_heads"), List.of(p + "q_t"), Nodes.attr("perm", 0L, 2L, 1L, 3L)));
            g.addNode(Nodes.node("Transpose", p + "k_t", List.of(p + "k_heads"), List.of(p + "k_t"), Nodes.attr("perm", 0L, 2L, 3L, 1L)));
            g.addNode(Nodes.node("Transpose", p + "v_t", List.of(p + "v_heads"), List.of(p + "v_t"), Nodes.attr("perm", 0L, 2L, 1L, 3L)));
            g.addNode(Nodes.node("MatMul", p + "scores", List.of(p + "q_t", p + "k_t"), List.of(p + "scores")));
            g.addNode(Nodes.node("Div", p + "scaled", List.of(p + "scores", "sqrt_head"), List.of(p + "scaled")));
            g.addNode(Nodes.node("Add", p + "masked", List.of(p + "scaled", "mask_add"), List.of(p + "masked")));
            g.addNode(Nodes.node("Softmax", p + "probs", List.of(p + "masked"), List.of(p + "probs"), Nodes.attr("axis", -1L)));
            g.addNode(Nodes.node("MatMul", p + "context", List.of(p + "probs", p + "v_t"), List.of(p + "context")));
            g.addNode(Nodes.node("Transpose", p + "context_t", List.of(p + "context"), List.of(p + "context_t"), Nodes.attr("perm", 0L, 2L, 1L, 3L)));
            g.addNode(Nodes.node("Reshape", p + "merged", List.of(p + "context_t", "to_hidden"), List.of(p + "merged")));
            g.addNode(Nodes.node("MatMul", p + "o_mm", List.of(p + "merged", p + "wo"), List.of(p + "o_xw")));
            g.addNode(Nodes.node("Add", p + "o_bias", List.of(p + "o_xw", p + "bo"), List.of(p + "o")));
            String next = l == layers - 1 ? "hidden" : p + "out";
            g.addNode(Nodes.node("Add", p + "residual", List.of(p + "o", x), List.of(next)));
            x = next;
        }
        g.addNode(Nodes.node("ReduceMean", "pool", List.of("hidden"), List.of("pooled"), Nodes.attr("axes", new long[] {1}), Nodes.attr("keepdims", 0L)));
        return g.build();
    }

    /** Token ids and a float attention mask whose later rows end in padding, as a tokenizer would give them. */
    record Tokens(long[][] ids, float[][] mask) {
        static Tokens random(int batch, int sequence, Random random) {
            long[][] ids = new long[batch][sequence];
            float[][] mask = new float[batch][sequence];
            for (int b = 0; b < batch; b++) {
                for (int s = 0; s < sequence; s++) {
                    ids[b][s] = random.nextInt(50);
                    mask[b][s] = s < sequence - b ? 1 : 0;
                }
            }
            return new Tokens(ids, mask);
        }

        /** The model's feeds; the caller closes them. */
        Map<String, OnnxTensor> tensors() {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try {
                return Map.of("ids", OnnxTensor.createTensor(env, ids), "mask", OnnxTensor.createTensor(env, mask));
            } catch (OrtException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Every output, flattened, in the graph's order. */
    static List<float[]> run(Path model, Tokens tokens) {
        Map<String, OnnxTensor> feeds = tokens.tensors();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession session = OrtEnvironment.getEnvironment().createSession(model.toString(), options);
             OrtSession.Result result = session.run(feeds)) {
            List<float[]> outputs = new ArrayList<>();
            for (var entry : result) {
                FloatBuffer buffer = ((OnnxTensor) entry.getValue()).getFloatBuffer();
                float[] values = new float[buffer.remaining()];
                buffer.get(values);
                outputs.add(values);
            }
            return outputs;
        } catch (OrtException e) {
            throw new AssertionError(e);
        } finally {
            feeds.values().forEach(OnnxTensor::close);
        }
    }
}
