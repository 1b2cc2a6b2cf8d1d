package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Each converter of {@link OpsetConverters} on a model written at an old opset: ONNX Runtime must compute the same
 * outputs before and after the upgrade (to 13, 17 and 21), and the onnx checker must accept the upgraded model. The
 * libonnx corpus (OpsetUpgradeCorpusTest) rarely holds these operators at the old opsets, hence these cases.
 */
class OpsetUpgradeTest {
    @TempDir
    Path dir;

    /** A model at {@code opset} with float inputs of the given shapes. */
    record Case(String name, long opset, Map<String, long[]> inputs, List<NodeProto> nodes, List<TensorProto> initializers,
                List<String> outputs) {
        @Override
        public String toString() {
            return name + " (opset " + opset + ")";
        }

        /** The model, its outputs declared with the rank ONNX Runtime infers (the onnx checker wants a shape). */
        ModelProto model() {
            GraphProto.Builder g = GraphProto.newBuilder().setName(name).addAllNode(nodes).addAllInitializer(initializers);
            inputs.forEach((n, dims) -> g.addInput(Nodes.tensorInfo(n, DataType.FLOAT, java.util.Arrays.stream(dims).boxed().toArray())));
            outputs.forEach(o -> g.addOutput(ValueInfoProto.newBuilder().setName(o)));
            ModelProto untyped = SmallModels.model(g.build(), opset).toBuilder().setIrVersion(Math.max(4, OpsetUpgrade.minimumIrVersion(opset))).build();
            Map<String, ValueTypes.TensorType> types = ValueTypes.infer(OnnxModel.of(untyped));
            g.clearOutput();
            for (String o : outputs) {
                Object[] dims = new Object[types.get(o).rank()];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = o + "_" + i;
                }
                g.addOutput(Nodes.tensorInfo(o, types.get(o).elementType(), dims));
            }
            return untyped.toBuilder().setGraph(g).build();
        }
    }

    private static Case single(String name, long opset, long[] shape, NodeProto node, TensorProto... initializers) {
        return new Case(name, opset, Map.of("x", shape), List.of(node), List.of(initializers), node.getOutputList());
    }

    private static NodeProto op(String type, List<String> inputs, List<String> outputs, AttributeProto... attributes) {
        return Nodes.node(type, type.toLowerCase() + "_node", inputs, outputs, attributes);
    }

    static Stream<Case> cases() {
        long[] r3 = {2, 3, 4};
        List<Case> cases = new ArrayList<>();
        for (String softmax : List.of("Softmax", "LogSoftmax", "Hardmax")) {
            cases.add(single(softmax + " over flattened axes 1..", 11, r3, op(softmax, List.of("x"), List.of("y"), Nodes.attr("axis", 1L))));
            cases.add(single(softmax + " default axis", 11, r3, op(softmax, List.of("x"), List.of("y"))));
            cases.add(single(softmax + " negative axis", 12, r3, op(softmax, List.of("x"), List.of("y"), Nodes.attr("axis", -2L))));
        }
        // the rank of 'h' is not declared: ONNX Runtime's inference tells it is the last axis
        cases.add(new Case("Softmax on the last axis of an intermediate value", 11, Map.of("x", r3),
                List.of(op("Relu", List.of("x"), List.of("h")), op("Softmax", List.of("h"), List.of("y"), Nodes.attr("axis", 2L))),
                List.of(), List.of("y")));
        cases.add(single("Squeeze axes", 11, new long[] {2, 1, 3, 1}, op("Squeeze", List.of("x"), List.of("y"), Nodes.attr("axes", 1L, 3L))));
        cases.add(single("Unsqueeze axes", 9, new long[] {2, 3}, op("Unsqueeze", List.of("x"), List.of("y"), Nodes.attr("axes", 0L, 3L))));
        cases.add(single("ReduceSum axes", 12, r3, op("ReduceSum", List.of("x"), List.of("y"), Nodes.attr("axes", new long[] {1}), Nodes.attr("keepdims", 0L))));
        for (String reduce : List.of("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                "ReduceLogSumExp", "ReduceSumSquare")) {
            cases.add(single(reduce + " axes", 11, r3, op(reduce, List.of("x"), List.of("y"), Nodes.attr("axes", 0L, 2L))));
        }
        cases.add(single("ReduceMean over everything", 11, r3, op("ReduceMean", List.of("x"), List.of("y"))));
        cases.add(new Case("Split sizes", 11, Map.of("x", new long[] {2, 5}), List.of(op("Split", List.of("x"), List.of("a", "b"),
                Nodes.attr("axis", 1L), Nodes.attr("split", 2L, 3L))), List.of(), List.of("a", "b")));
        cases.add(new Case("Split in equal parts", 7, Map.of("x", new long[] {2, 6}), List.of(op("Split", List.of("x"), List.of("a", "b", "c"),
                Nodes.attr("axis", 1L))), List.of(), List.of("a", "b", "c")));
        cases.add(single("Slice attributes", 9, new long[] {4, 5}, op("Slice", List.of("x"), List.of("y"),
                Nodes.attr("starts", 1L, -4L), Nodes.attr("ends", 3L, 1000L), Nodes.attr("axes", 0L, 1L))));
        cases.add(single("Slice without axes", 7, new long[] {4, 5}, op("Slice", List.of("x"), List.of("y"),
                Nodes.attr("starts", 0L, 2L), Nodes.attr("ends", 2L, 4L))));
        cases.add(new Case("TopK k", 9, Map.of("x", new long[] {3, 6}), List.of(op("TopK", List.of("x"), List.of("values", "indices"),
                Nodes.attr("k", 2L))), List.of(), List.of("values")));
        cases.add(single("Clip min and max", 10, r3, op("Clip", List.of("x"), List.of("y"), Nodes.attr("min", -0.5f), Nodes.attr("max", 0.25f))));
        cases.add(single("Clip max only", 9, r3, op("Clip", List.of("x"), List.of("y"), Nodes.attr("max", 0.1f))));
        cases.add(single("Pad constant value", 10, new long[] {2, 3}, op("Pad", List.of("x"), List.of("y"),
                Nodes.attr("pads", 1L, 0L, 0L, 2L), Nodes.attr("value", 1.5f))));
        cases.add(single("Pad reflect", 10, new long[] {2, 4}, op("Pad", List.of("x"), List.of("y"),
                Nodes.attr("pads", 0L, 2L, 0L, 1L), Nodes.attr("mode", "reflect"))));
        cases.add(single("Dropout ratio", 10, r3, op("Dropout", List.of("x"), List.of("y"), Nodes.attr("ratio", 0.3f))));
        cases.add(new Case("Dropout with an unread mask", 7, Map.of("x", r3), List.of(op("Dropout", List.of("x"), List.of("y", "mask"))),
                List.of(), List.of("y")));
        cases.add(single("Upsample nearest", 7, new long[] {1, 1, 2, 3}, op("Upsample", List.of("x"), List.of("y"),
                Nodes.attr("scales", 1f, 1f, 2f, 3f))));
        cases.add(single("Upsample linear", 8, new long[] {1, 2, 3, 3}, op("Upsample", List.of("x"), List.of("y"),
                Nodes.attr("scales", 1f, 1f, 2f, 2f), Nodes.attr("mode", "linear"))));
        cases.add(single("Upsample with scales as an input", 9, new long[] {1, 1, 2, 2}, op("Upsample", List.of("x", "s"), List.of("y")),
                Tensors.ofFloats("s", new long[] {4}, new float[] {1, 1, 3, 2})));
        cases.add(single("Resize nearest downsampling", 10, new long[] {1, 1, 5, 7}, op("Resize", List.of("x", "s"), List.of("y")),
                Tensors.ofFloats("s", new long[] {4}, new float[] {1, 1, 0.6f, 0.5f})));
        cases.add(single("Resize linear", 10, new long[] {1, 1, 3, 4}, op("Resize", List.of("x", "s"), List.of("y"), Nodes.attr("mode", "linear")),
                Tensors.ofFloats("s", new long[] {4}, new float[] {1, 1, 2, 1.5f})));
        cases.add(single("BatchNormalization spatial", 7, new long[] {2, 3, 2, 2}, op("BatchNormalization",
                        List.of("x", "scale", "bias", "mean", "var"), List.of("y"), Nodes.attr("spatial", 1L), Nodes.attr("epsilon", 1e-3f)),
                Tensors.ofFloats("scale", new long[] {3}, new float[] {1, 2, 0.5f}), Tensors.ofFloats("bias", new long[] {3}, new float[] {0, 1, -1}),
                Tensors.ofFloats("mean", new long[] {3}, new float[] {0.1f, 0, -0.2f}), Tensors.ofFloats("var", new long[] {3}, new float[] {1, 0.5f, 2})));
        cases.add(single("Scatter", 9, new long[] {3, 3}, op("Scatter", List.of("x", "indices", "updates"), List.of("y"), Nodes.attr("axis", 1L)),
                Tensors.ofLongs("indices", new long[] {1, 2}, new long[] {1, 0}), Tensors.ofFloats("updates", new long[] {1, 2}, new float[] {7, 8})));
        cases.add(new Case("GroupNormalization per group", 18, Map.of("x", new long[] {2, 4, 3}), List.of(op("GroupNormalization",
                List.of("x", "scale", "bias"), List.of("y"), Nodes.attr("num_groups", 2L))),
                List.of(Tensors.ofFloats("scale", new long[] {2}, new float[] {2, 0.5f}), Tensors.ofFloats("bias", new long[] {2}, new float[] {1, -1})),
                List.of("y")));
        cases.add(new Case("RoiAlign", 10, Map.of("x", new long[] {1, 2, 6, 6}), List.of(op("RoiAlign",
                List.of("x", "rois", "batch"), List.of("y"), Nodes.attr("output_height", 2L), Nodes.attr("output_width", 2L))),
                List.of(Tensors.ofFloats("rois", new long[] {1, 4}, new float[] {0.5f, 1, 4, 5}), Tensors.ofLongs("batch", new long[] {1}, new long[] {0})),
                List.of("y")));
        cases.add(new Case("GridSample bilinear", 16, Map.of("x", new long[] {1, 1, 3, 3}), List.of(op("GridSample",
                List.of("x", "grid"), List.of("y"), Nodes.attr("mode", "bilinear"))),
                List.of(Tensors.ofFloats("grid", new long[] {1, 2, 2, 2}, new float[] {-0.5f, -0.5f, 0.3f, 0.1f, 0.9f, -0.2f, 0, 0})),
                List.of("y")));
        cases.add(single("Resize by sizes with empty roi and scales", 11, new long[] {1, 1, 2, 4}, op("Resize",
                        List.of("x", "roi", "scales", "sizes"), List.of("y"), Nodes.attr("mode", "linear")),
                Tensors.ofFloats("roi", new long[] {0}, new float[0]), Tensors.ofFloats("scales", new long[] {0}, new float[0]),
                Tensors.ofLongs("sizes", new long[] {4}, new long[] {1, 1, 3, 6})));
        cases.add(single("DFT default axis", 17, new long[] {2, 8, 1}, op("DFT", List.of("x"), List.of("y"))));
        cases.add(single("DFT inverse on axis 1 of a complex signal", 17, new long[] {1, 6, 2}, op("DFT", List.of("x"), List.of("y"),
                Nodes.attr("axis", 1L), Nodes.attr("inverse", 1L))));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void upgradedModelsComputeTheSame(Case c) throws Exception {
        Path original = dir.resolve("original.onnx");
        OnnxModel.of(c.model()).write(original);
        Random random = new Random(c.name().hashCode());
        Map<String, TensorProto> feeds = new LinkedHashMap<>();
        c.inputs().forEach((name, dims) -> feeds.put(name, Tensors.ofFloats(name, dims,
                SmallModels.random(random, (int) Tensors.elementCount(dims, name), 1f))));
        List<OnnxTestCase.Outputs> expected = OnnxTestCase.run(original, List.of(feeds));

        List<Path> checkable = new ArrayList<>();
        for (long target : new long[] {13, 17, 21}) {
            if (target <= c.opset()) {
                continue;
            }
            OnnxModel model = OnnxModel.of(c.model());
            OpsetUpgrade.Result result = OpsetUpgrade.upgrade(model, target);
            assertThat(result.fromOpset()).isEqualTo(c.opset());
            assertThat(model.opset("")).isEqualTo(target);
            assertThat(model.proto().getIrVersion()).isGreaterThanOrEqualTo(OpsetUpgrade.minimumIrVersion(target));
            Path upgraded = dir.resolve("upgraded-" + target + ".onnx");
            model.write(upgraded);
            List<OnnxTestCase.Outputs> actual = OnnxTestCase.run(upgraded, List.of(feeds));
            assertThat(OnnxTestCase.difference(expected.get(0), actual.get(0))).as("opset %d", target).isNull();
            if (target <= 17) {
                checkable.add(upgraded);
            }
        }
        OnnxChecker.assertValid(checkable.toArray(Path[]::new));
    }

    @Test
    void softmaxKeepsItsSingleNodeWhenTheAxisIsTheLastOne() {
        OnnxModel last = OnnxModel.of(single("s", 11, new long[] {2, 3, 4}, op("Softmax", List.of("x"), List.of("y"), Nodes.attr("axis", 2L))).model());
        OpsetUpgrade.upgrade(last, 13);
        assertThat(last.graph().getNodeList()).extracting(NodeProto::getOpType).containsExactly("Softmax");
        assertThat(Nodes.intAttribute(last.graph().getNode(0), "axis", 99)).isEqualTo(2);

        OnnxModel middle = OnnxModel.of(single("s", 11, new long[] {2, 3, 4}, op("Softmax", List.of("x"), List.of("y"), Nodes.attr("axis", 1L))).model());
        OpsetUpgrade.Result result = OpsetUpgrade.upgrade(middle, 13);
        assertThat(middle.graph().getNodeList()).extracting(NodeProto::getOpType).containsExactly("Shape", "Flatten", "Softmax", "Reshape");
        assertThat(result.rewrites()).containsEntry("Softmax -> 13", 1);
    }

    @Test
    void nodesInsideIfBranchesAreConvertedToo() throws Exception {
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addNode(Nodes.node("Unsqueeze", "then_unsqueeze", List.of("x"), List.of("then_y"), Nodes.attr("axes", new long[] {0})))
                .addOutput(Nodes.tensorInfo("then_y", DataType.FLOAT, 1, 3, 4)).build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                .addNode(Nodes.node("Unsqueeze", "else_unsqueeze", List.of("x"), List.of("else_3d"), Nodes.attr("axes", new long[] {2})))
                .addNode(Nodes.node("ReduceSum", "else_sum", List.of("else_3d"), List.of("else_y"), Nodes.attr("axes", new long[] {2})))
                .addOutput(Nodes.tensorInfo("else_y", DataType.FLOAT, 3, 4, 1)).build();
        GraphProto g = GraphProto.newBuilder().setName("if")
                .addInput(Nodes.tensorInfo("cond", DataType.BOOL))
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 3, 4))
                .addNode(Nodes.node("If", "branch", List.of("cond"), List.of("y"),
                        Nodes.attr("then_branch", thenBranch), Nodes.attr("else_branch", elseBranch)))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "a", "b", "c")).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 11).toBuilder().setIrVersion(6).build());
        Path original = dir.resolve("if-11.onnx");
        model.write(original);
        OpsetUpgrade.Result result = OpsetUpgrade.upgrade(model, 13);
        Path upgraded = dir.resolve("if-13.onnx");
        model.write(upgraded);

        assertThat(result.rewrites()).containsEntry("Unsqueeze -> 13", 2).containsEntry("ReduceSum -> 13", 1);
        float[] x = SmallModels.random(new Random(4), 12, 1f);
        for (boolean cond : new boolean[] {true, false}) {
            Map<String, Object> feeds = Map.of("cond", cond, "x", new io.modelpress.core.testing.Ort.Floats(x, 3, 4));
            assertThat(io.modelpress.core.testing.Ort.runFirstOutput(upgraded, feeds))
                    .containsExactly(io.modelpress.core.testing.Ort.runFirstOutput(original, feeds));
        }
        OnnxChecker.assertValid(upgraded);
    }

    @Test
    void miniLmComputesTheSameEmbeddingsAtOpsets13To21() throws Exception {
        Path original = ReferenceModels.minilm();
        long[] ids = {101, 7592, 1010, 2088, 999, 2023, 2003, 1037, 3231, 102};
        Map<String, TensorProto> feeds = new LinkedHashMap<>();
        feeds.put("input_ids", Tensors.ofLongs("input_ids", new long[] {1, ids.length}, ids));
        long[] ones = new long[ids.length];
        java.util.Arrays.fill(ones, 1);
        feeds.put("attention_mask", Tensors.ofLongs("attention_mask", new long[] {1, ids.length}, ones));
        feeds.put("token_type_ids", Tensors.ofLongs("token_type_ids", new long[] {1, ids.length}, new long[ids.length]));
        OnnxTestCase.Outputs expected = OnnxTestCase.run(original, List.of(feeds)).get(0);
        for (long target : new long[] {13, 17, 21}) {
            OnnxModel model = OnnxModel.read(original);
            OpsetUpgrade.Result result = OpsetUpgrade.upgrade(model, target);
            assertThat(result.rewrittenNodes()).isGreaterThan(50); // Unsqueeze axes, and from 18 on ReduceMean axes
            Path upgraded = dir.resolve("minilm-" + target + ".onnx");
            model.write(upgraded);
            assertThat(OnnxTestCase.difference(expected, OnnxTestCase.run(upgraded, List.of(feeds)).get(0))).isNull();
            if (target <= 17) {
                OnnxChecker.assertValid(upgraded);
            }
        }
    }

    @Test
    void unconvertibleNodesAreNamedInTheError() {
        GraphProto scan = GraphProto.newBuilder().setName("body")
                .addInput(Nodes.tensorInfo("sum_in", DataType.FLOAT, 2)).addInput(Nodes.tensorInfo("next", DataType.FLOAT, 2))
                .addNode(Nodes.node("Add", "body_add", List.of("sum_in", "next"), List.of("sum_out")))
                .addOutput(Nodes.tensorInfo("sum_out", DataType.FLOAT, 2)).build();
        GraphProto g = GraphProto.newBuilder().setName("scan8")
                .addInput(Nodes.tensorInfo("init", DataType.FLOAT, 1, 2))
                .addInput(Nodes.tensorInfo("xs", DataType.FLOAT, 1, 3, 2))
                .addNode(Nodes.node("Scan", "my_scan", List.of("", "init", "xs"), List.of("total"),
                        Nodes.attr("body", scan), Nodes.attr("num_scan_inputs", 1L)))
                .addOutput(Nodes.tensorInfo("total", DataType.FLOAT, 1, 2)).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 8).toBuilder().setIrVersion(3).build());
        assertThatThrownBy(() -> OpsetUpgrade.upgrade(model, 13)).isInstanceOfSatisfying(ModelPressException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPSET);
            assertThat(e.location()).contains("my_scan").contains("Scan");
            assertThat(e.getMessage()).contains("opset 9");
        });
    }

    @Test
    void operatorsUnknownOrNotYetDefinedAreRejected() {
        OnnxModel experimental = OnnxModel.of(single("e", 9, new long[] {1, 3, 2, 2},
                Nodes.node("ImageScaler", "scaler", List.of("x"), List.of("y"), Nodes.attr("scale", 2f), Nodes.attr("bias", 1f, 2f, 3f))).model());
        assertThatThrownBy(() -> OpsetUpgrade.upgrade(experimental, 13)).isInstanceOfSatisfying(ModelPressException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPSET);
            assertThat(e.location()).contains("scaler").contains("ImageScaler");
        });
        OnnxModel tooEarly = OnnxModel.of(SmallModels.model(GraphProto.newBuilder().setName("celu")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 2)).addNode(op("Celu", List.of("x"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 2)).build(), 9));
        assertThatThrownBy(() -> OpsetUpgrade.upgrade(tooEarly, 13)).isInstanceOfSatisfying(ModelPressException.class,
                e -> assertThat(e.getMessage()).contains("Celu does not exist in opset 9"));
    }

    @Test
    void targetsOutsideTheSupportedRangeOrBelowTheModelAreRefused() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(4, 4, 2, false, 1)); // opset 17
        for (long target : new long[] {6, 22, 16}) {
            assertThatThrownBy(() -> OpsetUpgrade.upgrade(model, target))
                    .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPSET));
        }
        assertThat(OpsetUpgrade.upgrade(model, 17).rewrittenNodes()).isZero();
        assertThat(Graphs.nodeCount(model.graph().build())).isEqualTo(5);
    }
}
