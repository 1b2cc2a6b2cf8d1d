package io.modelpress.core.testing;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A small detection-style CNN in the shape mobile detectors are exported in, holding what float16 cannot carry as it
 * is. Weights live in Constant nodes; the image is {@code [batch, 3, height, width]} with height and width open
 * (multiples of 4).
 *
 * <pre>
 * image -> stem conv 3x3/2 -> HardSwish -> s                                  [N,16,H/2,W/2]
 *       -> depthwise 3x3/2 -> x * HardSigmoid(x) -> pointwise 1x1 -> Clip(0, 6)  [N,24,H/4,W/4]
 *       -> Resize x2 (nearest; float scales computed from the two shapes) -> Concat(s, .)
 *       -> depthwise 3x3 -> HardSwish -> pointwise 1x1 -> Split into class logits (6), box (4), objectness (1)
 * scores     = Where(conf > 0.1, conf, 0), conf = Softmax(logits + mask) * Sigmoid(objectness); the additive class
 *              mask disables two classes with -1e9
 * log_scores = Log(Clip(conf, 1e-10, 1))         (float16 flushes 1e-10 to zero, and Log(0) is -inf)
 * areas      = ReduceProd(box w, h) / 1048576      (box = Sigmoid(box) * 1024 pixels; the product passes 65504,
 *                                                   and the divisor is beyond float16)
 * heat       = e / ReduceSum(e), e = Reshape(Exp(100 objectness), [N, -1])   (a spatial softmax without the max
 *                                                   subtracted: Exp overflows float16 from 11.1 on)
 * detections = Transpose(Reshape(Concat(box, area, conf)))   [N, positions, 11], areas in pixels squared
 * </pre>
 * <p>ONNX Runtime's CPU kernels compute most arithmetic in float32 even in a float16 model, but the data-movement
 * kernels (Reshape, Concat, Transpose) hold float16, so the overflowing values are lost there.
 */
public final class DetectionCnn {
    public static final int CLASSES = 6;
    public static final List<String> OUTPUTS = List.of("scores", "log_scores", "areas", "heat", "detections");

    private final Random random;
    private final List<NodeProto> nodes = new ArrayList<>();

    private DetectionCnn(long seed) {
        this.random = new Random(seed);
    }

    public static ModelProto build(long seed) {
        return new DetectionCnn(seed).graph();
    }

    private ModelProto graph() {
        String s = conv("stem", "image", 3, 16, 3, 2, 1, 0.4f);
        node("HardSwish", "stem.hswish", List.of(s), "s");
        String d0 = conv("dw1", "s", 16, 16, 3, 2, 16, 0.5f);
        node("HardSigmoid", "dw1.hsigmoid", List.of(d0), "dw1.gate", Nodes.attr("alpha", 1f / 6), Nodes.attr("beta", 0.5f));
        node("Mul", "dw1.hswish", List.of(d0, "dw1.gate"), "d");
        String p0 = conv("pw1", "d", 16, 24, 1, 1, 1, 0.5f);
        constant(Tensors.scalarFloat("zero", 0f));
        constant(Tensors.scalarFloat("six", 6f));
        node("Clip", "pw1.relu6", List.of(p0, "zero", "six"), "p");

        // scales = [1, 1] ++ float(shape(s)[2:]) / float(shape(p)[2:]), the way exporters write "upsample to s"
        constant(Tensors.ofLongs("spatial.start", new long[] {1}, new long[] {2}));
        constant(Tensors.ofLongs("spatial.end", new long[] {1}, new long[] {4}));
        constant(Tensors.ofFloats("scales.ones", new long[] {2}, new float[] {1, 1}));
        for (String v : List.of("s", "p")) {
            node("Shape", "shape." + v, List.of(v), "shape." + v);
            node("Slice", "hw." + v, List.of("shape." + v, "spatial.start", "spatial.end"), "hw." + v);
            node("Cast", "hw." + v + ".float", List.of("hw." + v), "hw." + v + ".f", Nodes.attr("to", (long) DataType.FLOAT.onnxId()));
        }
        node("Div", "up.ratio", List.of("hw.s.f", "hw.p.f"), "up.ratio");
        node("Concat", "up.scales", List.of("scales.ones", "up.ratio"), "up.scales", Nodes.attr("axis", 0L));
        node("Resize", "up", List.of("p", "", "up.scales"), "u", Nodes.attr("mode", "nearest"));
        node("Concat", "fuse", List.of("s", "u"), "f", Nodes.attr("axis", 1L));

        String h0 = conv("head.dw", "f", 40, 40, 3, 1, 40, 0.5f);
        node("HardSwish", "head.hswish", List.of(h0), "h");
        String raw = conv("head.pw", "h", 40, CLASSES + 5, 1, 1, 1, 0.45f);
        constant(Tensors.ofLongs("split.sizes", new long[] {3}, new long[] {CLASSES, 4, 1}));
        nodes.add(Nodes.node("Split", "head.split", List.of(raw, "split.sizes"), List.of("cls", "box", "obj"), Nodes.attr("axis", 1L)));

        constant(Tensors.ofFloats("class.mask", new long[] {1, CLASSES, 1, 1}, new float[] {0, 0, 0, 0, -1e9f, -1e9f}));
        node("Add", "cls.masked", List.of("cls", "class.mask"), "cls.m");
        node("Softmax", "cls.softmax", List.of("cls.m"), "probs", Nodes.attr("axis", 1L));
        node("Sigmoid", "obj.sigmoid", List.of("obj"), "obj.p");
        node("Mul", "conf", List.of("probs", "obj.p"), "conf");
        constant(Tensors.scalarFloat("threshold", 0.1f));
        node("Greater", "conf.keep", List.of("conf", "threshold"), "keep");
        node("Where", "scores", List.of("keep", "conf", "zero"), "scores");

        constant(Tensors.scalarFloat("log.floor", 1e-10f));
        constant(Tensors.scalarFloat("one", 1f));
        node("Clip", "log.clip", List.of("conf", "log.floor", "one"), "conf.c");
        node("Log", "log_scores", List.of("conf.c"), "log_scores");

        constant(Tensors.scalarFloat("image.size", 1024f));
        node("Sigmoid", "box.sigmoid", List.of("box"), "box.p");
        node("Mul", "boxes", List.of("box.p", "image.size"), "boxes");
        constant(Tensors.ofLongs("wh.start", new long[] {1}, new long[] {2}));
        constant(Tensors.ofLongs("wh.end", new long[] {1}, new long[] {4}));
        constant(Tensors.ofLongs("channel.axis", new long[] {1}, new long[] {1}));
        node("Slice", "box.wh", List.of("boxes", "wh.start", "wh.end", "channel.axis"), "wh");
        nodes.add(Nodes.node("ReduceProd", "box.area", List.of("wh"), List.of("area"), Nodes.attr("axes", new long[] {1}), Nodes.attr("keepdims", 1L)));
        constant(Tensors.scalarFloat("image.area", 1024f * 1024f));
        node("Div", "areas", List.of("area", "image.area"), "areas");

        // a spatial softmax without the max subtracted, over the flattened map: Exp overflows float16 from 11.1 on
        constant(Tensors.scalarFloat("temperature", 100f));
        node("Mul", "heat.logits", List.of("obj", "temperature"), "heat.logits");
        node("Exp", "heat.exp", List.of("heat.logits"), "heat.exp");
        constant(Tensors.ofLongs("flat.shape", new long[] {2}, new long[] {0, -1}));
        node("Reshape", "heat.flat", List.of("heat.exp", "flat.shape"), "heat.flat");
        constant(Tensors.ofLongs("last.axis", new long[] {1}, new long[] {1}));
        node("ReduceSum", "heat.sum", List.of("heat.flat", "last.axis"), "heat.sum", Nodes.attr("keepdims", 1L));
        node("Div", "heat", List.of("heat.flat", "heat.sum"), "heat");

        // one row per position: box (pixels), area (pixels squared, beyond float16), class confidences
        node("Concat", "det.cat", List.of("boxes", "area", "conf"), "det.cat", Nodes.attr("axis", 1L));
        constant(Tensors.ofLongs("det.shape", new long[] {3}, new long[] {0, CLASSES + 5, -1}));
        node("Reshape", "det.rows", List.of("det.cat", "det.shape"), "det.rows");
        nodes.add(Nodes.node("Transpose", "detections", List.of("det.rows"), List.of("detections"), Nodes.attr("perm", 0L, 2L, 1L)));

        GraphProto.Builder g = GraphProto.newBuilder().setName("detection_cnn")
                .addInput(Nodes.tensorInfo("image", DataType.FLOAT, "batch", 3, "height", "width"))
                .addAllNode(nodes);
        for (String output : List.of("scores", "log_scores", "areas")) {
            g.addOutput(Nodes.tensorInfo(output, DataType.FLOAT, "batch", output + "_channels", "height / 2", "width / 2"));
        }
        g.addOutput(Nodes.tensorInfo("heat", DataType.FLOAT, "batch", "positions"));
        g.addOutput(Nodes.tensorInfo("detections", DataType.FLOAT, "batch", "positions", CLASSES + 5));
        return SmallModels.model(g.build(), 17);
    }

    /** A Conv with He-scaled weights (times {@code gain}) and a small bias, both in Constant nodes; returns its output. */
    private String conv(String name, String input, int in, int out, int kernel, int stride, int group, float gain) {
        int fanIn = in / group * kernel * kernel;
        constant(Tensors.ofFloats(name + ".weight", new long[] {out, in / group, kernel, kernel},
                SmallModels.random(random, out * fanIn, gain * (float) Math.sqrt(2.0 / fanIn))));
        constant(Tensors.ofFloats(name + ".bias", new long[] {out}, SmallModels.random(random, out, 0.1f)));
        long pad = kernel / 2;
        nodes.add(Nodes.node("Conv", name, List.of(input, name + ".weight", name + ".bias"), List.of(name + ".out"),
                Nodes.attr("kernel_shape", (long) kernel, kernel), Nodes.attr("strides", (long) stride, stride),
                Nodes.attr("pads", pad, pad, pad, pad), Nodes.attr("group", (long) group)));
        return name + ".out";
    }

    private void constant(TensorProto value) {
        nodes.add(Nodes.constant(value));
    }

    private void node(String op, String name, List<String> inputs, String output, ai.onnx.proto.OnnxMl.AttributeProto... attributes) {
        nodes.add(Nodes.node(op, name, inputs, List.of(output), attributes));
    }
}
