package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.convert.ConversionReport.KeptNode;
import io.modelpress.core.convert.ConversionReport.Rule;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Float16;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.ValueTypes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * One test per static float16 rule: what float16 would do to the value (shown with the naive conversion, which
 * clamps and rounds everything), that the rule keeps the node float32 and says why, and that ONNX Runtime then
 * computes what the float32 model computes.
 */
class Float16RulesTest {
    @TempDir
    Path dir;

    /** Converts a copy with the static rules and one without any, writes both, and returns the rules' report. */
    private record Converted(ConversionReport report, OnnxModel model, Path checked, Path naive, Path original) {
    }

    private Converted convert(GraphProto graph, long opset) {
        OnnxModel model = OnnxModel.of(SmallModels.model(graph, opset));
        Path original = dir.resolve(graph.getName() + ".onnx");
        model.write(original);
        OnnxModel naive = model.copy();
        Float16Converter.convert(naive, Float16Converter.Options.DEFAULT, ValueTypes.infer(naive), Float16Converter.Plan.NAIVE);
        Path naivePath = dir.resolve(graph.getName() + "-naive.onnx");
        naive.write(naivePath);
        ConversionReport report = Float16Converter.convert(model, Float16Converter.Options.DEFAULT);
        Path checked = dir.resolve(graph.getName() + "-fp16.onnx");
        model.write(checked);
        return new Converted(report, model, checked, naivePath, original);
    }

    private static NodeProto node(OnnxModel model, String name) {
        return model.graph().getNodeList().stream().filter(n -> n.getName().equals(name)).findFirst().orElseThrow();
    }

    private static DataType constantType(OnnxModel model, String name) {
        return DataType.of(model.constant(name).orElseThrow());
    }

    @Test
    void aConstantBeyondFloat16StaysFloat32WithTheNodeReadingIt() {
        // an additive mask of -1e9 and a divisor of 2^20: clamped to -65504 and 65504, the second scales y by 16
        GraphProto g = GraphProto.newBuilder().setName("range")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 2, 4))
                .addNode(Nodes.constant(Tensors.ofFloats("mask", new long[] {1, 4}, new float[] {0, 0, -1e9f, 0})))
                .addNode(Nodes.constant(Tensors.scalarFloat("area", 1024f * 1024f)))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Add", "masked", List.of("r", "mask"), List.of("m")))
                .addNode(Nodes.node("Softmax", "softmax", List.of("m"), List.of("p"), Nodes.attr("axis", 1L)))
                .addNode(Nodes.node("Div", "scaled", List.of("p", "area"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 2, 4)).build();
        Converted c = convert(g, 17);

        assertThat(c.report().keptNodes()).extracting(KeptNode::node, KeptNode::rule)
                .containsExactlyInAnyOrder(tuple("masked", Rule.RANGE), tuple("scaled", Rule.RANGE));
        assertThat(c.report().keptNodes()).allSatisfy(k -> assertThat(k.reason()).contains("beyond float16's range"));
        assertThat(c.report().clampedValues()).isZero();
        assertThat(constantType(c.model(), "mask")).isEqualTo(DataType.FLOAT);
        assertThat(constantType(c.model(), "area")).isEqualTo(DataType.FLOAT);

        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {1, 2, 3, 4, -1, 0.5f, 2, 0}, 2, 4));
        float[] expected = Ort.runFirstOutput(c.original(), feeds);
        assertThat(Ort.runFirstOutput(c.checked(), feeds)).usingComparatorWithPrecision(expected[0] * 2e-3f).containsExactly(expected);
        float[] naive = Ort.runFirstOutput(c.naive(), feeds);
        assertThat(naive[0] / expected[0]).as("the clamped divisor makes the naive output 16 times too large").isCloseTo(16f,
                org.assertj.core.data.Offset.offset(0.1f));
        OnnxChecker.assertValid(c.checked());
    }

    @Test
    void aConstantThatFloat16WouldFlushStaysFloat32ButAnEpsilonAddendKeepsItsRoleInFloat16() {
        // Log(Clip(p, 1e-10, 1)): float16 has no 1e-10, and Log(0) is -inf; the LayerNorm-style epsilon is only a guard
        GraphProto g = GraphProto.newBuilder().setName("rounding")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 4))
                .addNode(Nodes.constant(Tensors.scalarFloat("floor", 1e-10f)))
                .addNode(Nodes.constant(Tensors.scalarFloat("one", 1f)))
                .addNode(Nodes.constant(Tensors.scalarFloat("eps", 1e-12f)))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("p")))
                .addNode(Nodes.node("Clip", "floor.clip", List.of("p", "floor", "one"), List.of("c")))
                .addNode(Nodes.node("Log", "log", List.of("c"), List.of("l")))
                .addNode(Nodes.node("Add", "guard", List.of("p", "eps"), List.of("q")))
                .addNode(Nodes.node("Div", "ratio", List.of("p", "q"), List.of("d")))
                .addNode(Nodes.node("Add", "sum", List.of("l", "d"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 4)).build();
        Converted c = convert(g, 17);

        assertThat(c.report().keptNodes()).extracting(KeptNode::node, KeptNode::rule).containsExactly(tuple("floor.clip", Rule.ROUNDING));
        assertThat(c.report().keptNodes().get(0).reason()).contains("'floor'").contains("1e-10");
        assertThat(constantType(c.model(), "floor")).isEqualTo(DataType.FLOAT);
        // the epsilon is stored as float16's smallest step, not as zero
        assertThat(constantType(c.model(), "eps")).isEqualTo(DataType.FLOAT16);
        float eps = Float16.toFloat(c.model().constant("eps").map(t -> t.getRawData().asReadOnlyByteBuffer()
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getShort()).orElseThrow());
        assertThat(eps).isEqualTo(0x1p-24f);
        assertThat(c.report().raisedValues()).isEqualTo(1);

        // x = 0 everywhere but one place: Log(1e-10) = -23.03 and 0 / (0 + eps) = 0 in float32
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {0, 0.5f, 0, 0}, 1, 4));
        float[] expected = Ort.runFirstOutput(c.original(), feeds);
        assertThat(expected[0]).isCloseTo(-23.03f, org.assertj.core.data.Offset.offset(0.01f));
        assertThat(Ort.runFirstOutput(c.checked(), feeds)).usingComparatorWithPrecision(0.01f).containsExactly(expected);
        float[] naive = Ort.runFirstOutput(c.naive(), feeds);
        assertThat(Float.isFinite(naive[0])).as("naive: Log(0) after the floor was flushed, 0/0 after the epsilon was").isFalse();
        OnnxChecker.assertValid(c.checked());
    }

    @Test
    void aComparisonWithAThresholdFloat16CannotHoldStaysFloat32() {
        GraphProto g = GraphProto.newBuilder().setName("threshold")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 4))
                .addNode(Nodes.constant(Tensors.scalarFloat("threshold", 0.1f)))
                .addNode(Nodes.constant(Tensors.scalarFloat("half", 0.5f)))
                .addNode(Nodes.constant(Tensors.scalarFloat("zero", 0f)))
                .addNode(Nodes.node("Greater", "keep", List.of("x", "threshold"), List.of("k")))
                .addNode(Nodes.node("Less", "below.half", List.of("x", "half"), List.of("h")))
                .addNode(Nodes.node("And", "both", List.of("k", "h"), List.of("b")))
                .addNode(Nodes.node("Where", "select", List.of("b", "x", "zero"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 4)).build();
        Converted c = convert(g, 17);

        // 0.5 is exact in float16, 0.1 is not
        assertThat(c.report().keptNodes()).extracting(KeptNode::node, KeptNode::rule).containsExactly(tuple("keep", Rule.THRESHOLD));
        assertThat(c.report().keptNodes().get(0).reason()).contains("0.1").contains("0.0999756");

        // 0.100001 is above the threshold, but float16 rounds it onto the rounded threshold
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {0.100001f, 0.05f, 0.3f, 0.0999f}, 1, 4));
        float[] expected = Ort.runFirstOutput(c.original(), feeds);
        assertThat(expected[0]).isPositive();
        assertThat(Ort.runFirstOutput(c.checked(), feeds)).usingComparatorWithPrecision(1e-3f).containsExactly(expected);
        // in float16 the value and the threshold are the same number, so a float16 Greater would drop it (ONNX
        // Runtime's CPU kernel computes Greater in float32 and does not show it)
        assertThat(Float16.fromFloat(0.100001f)).isEqualTo(Float16.fromFloat(0.1f));
        OnnxChecker.assertValid(c.checked());
    }

    @Test
    void computedResizeScalesStayFloat32SoTheOutputKeepsItsSize() {
        // scales = [1, 1, 1, 4097 / width]: 4097 and the quotient are exact in float32; float16 rounds 4097 to 4096
        GraphProto g = GraphProto.newBuilder().setName("resize")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 1, 1, "width"))
                .addNode(Nodes.constant(Tensors.ofFloats("target", new long[] {1}, new float[] {4097})))
                .addNode(Nodes.constant(Tensors.ofFloats("ones", new long[] {3}, new float[] {1, 1, 1})))
                .addNode(Nodes.constant(Tensors.ofLongs("last", new long[] {1}, new long[] {3})))
                .addNode(Nodes.constant(Tensors.ofLongs("end", new long[] {1}, new long[] {4})))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Shape", "shape", List.of("x"), List.of("s")))
                .addNode(Nodes.node("Slice", "width", List.of("s", "last", "end"), List.of("w")))
                .addNode(Nodes.node("Cast", "width.float", List.of("w"), List.of("wf"), Nodes.attr("to", (long) DataType.FLOAT.onnxId())))
                .addNode(Nodes.node("Div", "ratio", List.of("target", "wf"), List.of("ratio")))
                .addNode(Nodes.node("Concat", "scales", List.of("ones", "ratio"), List.of("scales"), Nodes.attr("axis", 0L)))
                .addNode(Nodes.node("Resize", "stretch", List.of("r", "", "scales"), List.of("y"), Nodes.attr("mode", "nearest")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 1, 1, "stretched")).build();
        Converted c = convert(g, 17);

        assertThat(c.report().keptNodes()).extracting(KeptNode::node, KeptNode::rule).containsExactlyInAnyOrder(
                tuple("width.float", Rule.RESIZE), tuple("ratio", Rule.RESIZE), tuple("scales", Rule.RESIZE));
        assertThat(c.report().keptNodes()).allSatisfy(k -> assertThat(k.reason()).contains("Resize 'stretch'"));
        // the image itself is resized in float16, with the float32 scales
        assertThat(node(c.model(), "stretch").getInputList()).containsExactly("r", "", "scales");
        assertThat(c.report().convertedNodes()).isEqualTo(3); // relu, shape, resize

        float[] x = SmallModels.random(new java.util.Random(3), 4096, 1f);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(x, 1, 1, 1, 4096));
        float[] expected = Ort.runFirstOutput(c.original(), feeds);
        assertThat(expected).hasSize(4097);
        float[] actual = Ort.runFirstOutput(c.checked(), feeds);
        assertThat(actual).hasSize(4097);
        assertThat(Fidelity.cosine(expected, actual)).isGreaterThan(0.9999);
        assertThat(Ort.runFirstOutput(c.naive(), feeds)).as("naive: the scale rounds to 1").hasSize(4096);
        OnnxChecker.assertValid(c.checked());
    }

    @Test
    void aPowerAboveOneStaysFloat32() {
        GraphProto g = GraphProto.newBuilder().setName("power")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 4))
                .addNode(Nodes.constant(Tensors.scalarFloat("two", 2f)))
                .addNode(Nodes.constant(Tensors.scalarFloat("root", 0.5f)))
                .addNode(Nodes.node("Pow", "square", List.of("x", "two"), List.of("y")))
                .addNode(Nodes.node("Abs", "abs", List.of("x"), List.of("a")))
                .addNode(Nodes.node("Pow", "sqrt", List.of("a", "root"), List.of("z")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 4))
                .addOutput(Nodes.tensorInfo("z", DataType.FLOAT, 1, 4)).build();
        Converted c = convert(g, 17);

        // x^2 leaves float16's range from |x| > 256; a square root cannot
        assertThat(c.report().keptNodes()).extracting(KeptNode::node, KeptNode::rule).containsExactly(tuple("square", Rule.RANGE));
        assertThat(c.report().keptNodes().get(0).reason()).contains("power 2");
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {300, -2, 5, 1}, 1, 4));
        float[] expected = Ort.runFirstOutput(c.original(), feeds);
        assertThat(expected[0]).isEqualTo(90000f);
        assertThat(Ort.runFirstOutput(c.checked(), feeds)).usingComparatorWithPrecision(1e-3f).containsExactly(expected);
        // a float16 Pow kernel would give infinity (ONNX Runtime's CPU computes Pow in float32 and does not show it)
        assertThat(Float16.toFloat(Float16.fromFloat(expected[0]))).isInfinite();
        OnnxChecker.assertValid(c.checked());
    }

    @Test
    void aConstantOfShapeFillBeyondFloat16StaysFloat32() {
        GraphProto g = GraphProto.newBuilder().setName("fill")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 4))
                .addNode(Nodes.node("Shape", "shape", List.of("x"), List.of("s")))
                .addNode(Nodes.node("ConstantOfShape", "fill", List.of("s"), List.of("f"),
                        Nodes.attr("value", Tensors.ofFloats("value", new long[] {1}, new float[] {-1e9f}))))
                .addNode(Nodes.node("Max", "max", List.of("x", "f"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 4)).build();
        Converted c = convert(g, 17);

        assertThat(c.report().keptNodes()).extracting(KeptNode::node, KeptNode::rule).containsExactly(tuple("fill", Rule.RANGE));
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {1, -2, 3, 0.25f}, 1, 4));
        assertThat(Ort.runFirstOutput(c.checked(), feeds)).usingComparatorWithPrecision(1e-3f)
                .containsExactly(Ort.runFirstOutput(c.original(), feeds));
        OnnxChecker.assertValid(c.checked());
    }
}
