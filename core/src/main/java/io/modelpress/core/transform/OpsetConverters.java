package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The registry of per-operator converters for the default ONNX domain: for every opset in which an operator got a new
 * version, either {@link NodeConverter#COMPATIBLE} (the old node means the same under the new version) or a rewrite.
 * An operator version that is not registered here is one this tool cannot convert.
 */
final class OpsetConverters {
    private static final Map<String, NodeConverter> REGISTRY = new HashMap<>();

    private OpsetConverters() {
    }

    static Optional<NodeConverter> find(String op, int version) {
        return Optional.ofNullable(REGISTRY.get(op + "@" + version));
    }

    private static void register(int version, String op, NodeConverter converter) {
        if (REGISTRY.put(op + "@" + version, converter) != null) {
            throw new IllegalStateException("two converters for " + op + " at opset " + version);
        }
    }

    private static void compatible(int version, String... ops) {
        for (String op : ops) {
            register(version, op, NodeConverter.COMPATIBLE);
        }
    }

    static {
        // 8: multidirectional broadcasting for the variadic ops; MaxPool gains storage_order and Indices
        compatible(8, "Max", "Min", "Mean", "Sum", "MaxPool");
        // 9: wider type support; BatchNormalization drops 'spatial'; Upsample takes scales as an input
        compatible(9, "Cast", "Constant", "Flatten", "Gemm", "Greater", "Less", "MatMul", "PRelu");
        register(9, "BatchNormalization", OpsetConverters::batchNormalizationWithoutSpatial);
        register(9, "Upsample", (node, ctx) -> floatsAttributeToInput(node, ctx, "scales", 1));
        register(9, "Scan", (node, ctx) -> {
            throw ctx.unsupported(node, "Scan-8 iterates over a batch axis that Scan-9 does not have; no exact rewrite");
        });
        // 10: ceil_mode/dilations for pooling; Slice and TopK take attributes as inputs; Upsample is deprecated
        compatible(10, "AveragePool", "MaxPool");
        register(10, "Dropout", OpsetConverters::dropoutWithBoolMask);
        register(10, "Slice", OpsetConverters::sliceAttributesToInputs);
        register(10, "TopK", OpsetConverters::topKAttributeToInput);
        register(10, "Upsample", OpsetConverters::upsampleToResize);
        // 11: negative axes, optional inputs, more types; Clip and Pad take attributes as inputs; Resize gets
        // coordinate transformation modes; Scatter is deprecated in favour of ScatterElements
        compatible(11, "ArgMax", "ArgMin", "AveragePool", "Compress", "Concat", "Constant", "Conv", "ConvTranspose",
                "DepthToSpace", "Equal", "Flatten", "Gather", "Gemm", "Hardmax", "If", "LogSoftmax", "Loop", "LpPool",
                "MaxPool", "MaxUnpool", "NonMaxSuppression", "OneHot", "ReduceL1", "ReduceL2", "ReduceLogSum",
                "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
                "Scan", "Slice", "Softmax", "Split", "Squeeze", "TopK", "Unsqueeze");
        register(11, "Clip", OpsetConverters::clipAttributesToInputs);
        register(11, "Pad", OpsetConverters::padAttributesToInputs);
        register(11, "Resize", OpsetConverters::resizeWithCoordinateModes);
        register(11, "Scatter", (node, ctx) -> List.of(node.toBuilder().setOpType("ScatterElements").build()));
        // 12: more types, select_last_index, batch_dims; Dropout takes its ratio as an input
        compatible(12, "ArgMax", "ArgMin", "Clip", "Constant", "GatherND", "Max", "Min", "MaxPool", "Pow",
                "ReduceMax", "ReduceMin");
        register(12, "Dropout", (node, ctx) -> floatAttributeToScalarInput(node, ctx, "ratio", 1));
        // 13: bfloat16 everywhere; axes and split become inputs; Softmax-like ops normalise one axis instead of a
        // flattened 2-D view
        compatible(13, "Abs", "Add", "ArgMax", "ArgMin", "Cast", "Ceil", "Clip", "Concat", "Constant", "DepthToSpace",
                "DequantizeLinear", "Div", "Dropout", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather",
                "GatherElements", "GatherND", "Gemm", "Greater", "Identity", "If", "IsNaN", "LRN", "Less", "Log", "Loop",
                "MatMul", "Max", "Mean", "MeanVarianceNormalization", "Min", "Mod", "Mul", "Neg",
                "NegativeLogLikelihoodLoss", "NonZero", "Pad", "Pow", "QuantizeLinear", "Reciprocal", "ReduceL1",
                "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
                "ReduceSumSquare", "Relu", "Reshape", "ScatterElements", "ScatterND", "Shape", "Sigmoid", "Sign", "Size",
                "Slice", "SoftmaxCrossEntropyLoss", "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tanh", "Tile", "Transpose");
        for (String op : List.of("Softmax", "LogSoftmax", "Hardmax")) {
            register(13, op, OpsetConverters::softmaxOnOneAxis);
        }
        for (String op : List.of("Squeeze", "Unsqueeze", "ReduceSum")) {
            register(13, op, (node, ctx) -> intsAttributeToInput(node, ctx, "axes", 1));
        }
        register(13, "Split", (node, ctx) -> intsAttributeToInput(node, ctx, "split", 1));
        register(13, "Resize", OpsetConverters::resizeWithOptionalInputs);
        // 14: more types, layout for RNNs, allowzero; BatchNormalization outputs statistics only in training mode
        compatible(14, "Add", "Sub", "Mul", "Div", "CumSum", "GRU", "LSTM", "RNN", "Identity", "Relu", "Reshape");
        register(14, "BatchNormalization", OpsetConverters::batchNormalizationInferenceOutputs);
        // 15, 16: more types, Shape start/end, reductions for scatters
        compatible(15, "BatchNormalization", "Pow", "Shape");
        compatible(16, "GreaterOrEqual", "LessOrEqual", "LeakyRelu", "PRelu", "Where", "ScatterElements", "ScatterND",
                "Identity", "If", "Loop", "Scan");
        register(16, "RoiAlign", OpsetConverters::roiAlignKeepsOutputHalfPixel);
        // 18: the remaining reductions take axes as an input; Split learns num_outputs
        compatible(18, "LpPool", "OptionalGetElement", "OptionalHasElement", "Pad", "Resize", "ScatterElements", "ScatterND");
        for (String op : List.of("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
                "ReduceMin", "ReduceProd", "ReduceSumSquare")) {
            register(18, op, (node, ctx) -> intsAttributeToInput(node, ctx, "axes", 1));
        }
        register(18, "Split", OpsetConverters::splitNumOutputs);
        // 19, 20, 21: float8/int4 types, new attributes with neutral defaults
        compatible(19, "AveragePool", "Cast", "CastLike", "Constant", "DequantizeLinear", "Equal", "Identity", "If", "Loop",
                "Pad", "QuantizeLinear", "Reshape", "Resize", "Scan", "Shape", "Size");
        compatible(20, "ConstantOfShape", "IsInf", "IsNaN", "ReduceMax", "ReduceMin");
        register(20, "DFT", OpsetConverters::dftAxisToInput);
        register(20, "GridSample", OpsetConverters::gridSampleModeNames);
        compatible(21, "Cast", "CastLike", "Constant", "ConstantOfShape", "DequantizeLinear", "Flatten", "Identity", "If",
                "Loop", "Pad", "QLinearMatMul", "QuantizeLinear", "Reshape", "Scan", "Shape", "Size", "Squeeze",
                "Transpose", "Unsqueeze");
        register(21, "GroupNormalization", OpsetConverters::groupNormalizationPerChannel);
    }

    // ------------------------------------------------------------------ attributes that became inputs

    private static List<NodeProto> intsAttributeToInput(NodeProto node, UpgradeContext ctx, String attribute, int input) {
        Optional<AttributeProto> value = Nodes.attribute(node, attribute);
        if (value.isEmpty()) {
            return List.of(node);
        }
        long[] ints = value.get().getIntsList().stream().mapToLong(Long::longValue).toArray();
        List<NodeProto> out = new ArrayList<>();
        String name = ctx.constant(node.getOutput(0) + "_" + attribute, Tensors.ofLongs("", new long[] {ints.length}, ints), out);
        out.add(withInput(without(node, attribute), input, name).build());
        return out;
    }

    private static List<NodeProto> floatsAttributeToInput(NodeProto node, UpgradeContext ctx, String attribute, int input) {
        AttributeProto value = Nodes.attribute(node, attribute)
                .orElseThrow(() -> ctx.unsupported(node, "the required attribute '" + attribute + "' is missing"));
        float[] floats = new float[value.getFloatsCount()];
        for (int i = 0; i < floats.length; i++) {
            floats[i] = value.getFloats(i);
        }
        List<NodeProto> out = new ArrayList<>();
        String name = ctx.constant(node.getOutput(0) + "_" + attribute, Tensors.ofFloats("", new long[] {floats.length}, floats), out);
        out.add(withInput(without(node, attribute), input, name).build());
        return out;
    }

    private static List<NodeProto> floatAttributeToScalarInput(NodeProto node, UpgradeContext ctx, String attribute, int input) {
        Optional<AttributeProto> value = Nodes.attribute(node, attribute);
        if (value.isEmpty()) {
            return List.of(node);
        }
        List<NodeProto> out = new ArrayList<>();
        String name = ctx.constant(node.getOutput(0) + "_" + attribute, Tensors.scalarFloat("", value.get().getF()), out);
        out.add(withInput(without(node, attribute), input, name).build());
        return out;
    }

    private static List<NodeProto> sliceAttributesToInputs(NodeProto node, UpgradeContext ctx) {
        List<NodeProto> out = new ArrayList<>();
        NodeProto.Builder slice = without(node, "starts", "ends", "axes");
        int input = 1;
        for (String attribute : List.of("starts", "ends", "axes")) {
            Optional<AttributeProto> value = Nodes.attribute(node, attribute);
            if (value.isPresent()) {
                long[] ints = value.get().getIntsList().stream().mapToLong(Long::longValue).toArray();
                withInput(slice, input, ctx.constant(node.getOutput(0) + "_" + attribute,
                        Tensors.ofLongs("", new long[] {ints.length}, ints), out));
            } else if (!attribute.equals("axes")) {
                throw ctx.unsupported(node, "the required attribute '" + attribute + "' is missing");
            }
            input++;
        }
        out.add(slice.build());
        return out;
    }

    private static List<NodeProto> topKAttributeToInput(NodeProto node, UpgradeContext ctx) {
        long k = Nodes.attribute(node, "k").map(AttributeProto::getI)
                .orElseThrow(() -> ctx.unsupported(node, "the required attribute 'k' is missing"));
        List<NodeProto> out = new ArrayList<>();
        String name = ctx.constant(node.getOutput(0) + "_k", Tensors.ofLongs("", new long[] {1}, new long[] {k}), out);
        out.add(withInput(without(node, "k"), 1, name).build());
        return out;
    }

    private static List<NodeProto> clipAttributesToInputs(NodeProto node, UpgradeContext ctx) {
        boolean hasMin = Nodes.attribute(node, "min").isPresent();
        boolean hasMax = Nodes.attribute(node, "max").isPresent();
        if (!hasMin && !hasMax) {
            return List.of(node);
        }
        DataType type = ctx.elementType(node, node.getInput(0));
        List<NodeProto> out = new ArrayList<>();
        NodeProto.Builder clip = without(node, "min", "max");
        if (hasMin) {
            withInput(clip, 1, ctx.constant(node.getOutput(0) + "_min", scalar(ctx, node, type, Nodes.floatAttribute(node, "min", 0)), out));
        }
        if (hasMax) {
            withInput(clip, 2, ctx.constant(node.getOutput(0) + "_max", scalar(ctx, node, type, Nodes.floatAttribute(node, "max", 0)), out));
        }
        out.add(clip.build());
        return out;
    }

    private static List<NodeProto> padAttributesToInputs(NodeProto node, UpgradeContext ctx) {
        AttributeProto pads = Nodes.attribute(node, "pads")
                .orElseThrow(() -> ctx.unsupported(node, "the required attribute 'pads' is missing"));
        long[] ints = pads.getIntsList().stream().mapToLong(Long::longValue).toArray();
        List<NodeProto> out = new ArrayList<>();
        NodeProto.Builder pad = without(node, "pads", "value");
        withInput(pad, 1, ctx.constant(node.getOutput(0) + "_pads", Tensors.ofLongs("", new long[] {ints.length}, ints), out));
        float value = Nodes.floatAttribute(node, "value", 0f);
        if (value != 0f) {
            DataType type = ctx.elementType(node, node.getInput(0));
            withInput(pad, 2, ctx.constant(node.getOutput(0) + "_value", scalar(ctx, node, type, value), out));
        }
        out.add(pad.build());
        return out;
    }

    private static List<NodeProto> dftAxisToInput(NodeProto node, UpgradeContext ctx) {
        long axis = Nodes.intAttribute(node, "axis", 1); // DFT-17's default; DFT-20's is -2
        List<NodeProto> out = new ArrayList<>();
        String name = ctx.constant(node.getOutput(0) + "_axis", Tensors.scalarLong("", axis), out);
        out.add(withInput(without(node, "axis"), 2, name).build());
        return out;
    }

    // ------------------------------------------------------------------ changed meanings

    /**
     * Before opset 13 these ops flattened the input to 2-D at {@code axis} and normalised each row; from 13 on they
     * normalise along the one axis. Both agree when the axis is the last one; otherwise the old meaning is kept with
     * Flatten, the op on the last axis, and a Reshape back to the input's shape.
     */
    private static List<NodeProto> softmaxOnOneAxis(NodeProto node, UpgradeContext ctx) {
        long axis = Nodes.intAttribute(node, "axis", 1);
        int rank = ctx.typeOf(node.getInput(0)).map(ValueTypes.TensorType::rank).orElse(-1);
        boolean lastAxis = axis == -1 || rank > 0 && (axis == rank - 1 || axis + rank == rank - 1);
        if (lastAxis) {
            // the default axis changed from 1 to -1, so the axis is always written out
            return List.of(without(node, "axis").addAttribute(Nodes.attr("axis", axis)).build());
        }
        String x = node.getInput(0);
        String y = node.getOutput(0);
        String shape = ctx.fresh(y + "_input_shape");
        String flat = ctx.fresh(y + "_2d");
        String normalised = ctx.fresh(y + "_2d_" + node.getOpType().toLowerCase());
        return List.of(
                Nodes.node("Shape", ctx.fresh(shape + "_node"), List.of(x), List.of(shape)),
                Nodes.node("Flatten", ctx.fresh(flat + "_node"), List.of(x), List.of(flat), Nodes.attr("axis", axis)),
                without(node, "axis").setInput(0, flat).setOutput(0, normalised).addAttribute(Nodes.attr("axis", -1L)).build(),
                Nodes.node("Reshape", ctx.fresh(y + "_reshape"), List.of(normalised, shape), List.of(y)));
    }

    private static List<NodeProto> dropoutWithBoolMask(NodeProto node, UpgradeContext ctx) {
        if (node.getOutputCount() < 2 || node.getOutput(1).isEmpty()) {
            return List.of(node);
        }
        if (ctx.isUsed(node.getOutput(1))) {
            throw ctx.unsupported(node, "its mask output is read, and the mask changed type from the input's type to bool in opset 10");
        }
        return List.of(node.toBuilder().clearOutput().addOutput(node.getOutput(0)).build());
    }

    private static List<NodeProto> batchNormalizationWithoutSpatial(NodeProto node, UpgradeContext ctx) {
        if (Nodes.intAttribute(node, "spatial", 1) != 1) {
            throw ctx.unsupported(node, "spatial=0 (per-activation statistics) was removed in opset 9");
        }
        return List.of(without(node, "spatial").build());
    }

    private static List<NodeProto> batchNormalizationInferenceOutputs(NodeProto node, UpgradeContext ctx) {
        for (int i = 1; i < node.getOutputCount(); i++) {
            if (ctx.isUsed(node.getOutput(i))) {
                throw ctx.unsupported(node, "it reads the training statistics output '" + node.getOutput(i)
                        + "', which opset 14 only produces in training mode");
            }
        }
        return List.of(node.toBuilder().clearOutput().addOutput(node.getOutput(0)).build());
    }

    private static List<NodeProto> upsampleToResize(NodeProto node, UpgradeContext ctx) {
        // Resize-10 is Upsample-9 under a new name: same inputs, same modes, same coordinate mapping
        ctx.markUpsampling(node.getOutput(0));
        return List.of(node.toBuilder().setOpType("Resize").build());
    }

    /**
     * Resize-10 mapped output to input coordinates as x / scale ("asymmetric"); opset 11 defaults to half_pixel, and
     * needs an roi input. ONNX Runtime's Resize-10 picks the nearest pixel by floor when upsampling and ceil when
     * downsampling, which nearest_mode expresses when every scale goes the same way.
     */
    private static List<NodeProto> resizeWithCoordinateModes(NodeProto node, UpgradeContext ctx) {
        String mode = Nodes.stringAttribute(node, "mode", "nearest");
        List<NodeProto> out = new ArrayList<>();
        NodeProto.Builder resize = node.toBuilder()
                .addAttribute(Nodes.attr("coordinate_transformation_mode", "asymmetric"));
        if (mode.equals("nearest")) {
            Optional<TensorProto> constantScales = ctx.constantValue(node.getInput(1));
            boolean up = true;
            boolean down = true;
            if (ctx.isUpsampling(node.getOutput(0))) {
                down = false; // an Upsample's scales are at least 1 by definition
            } else if (constantScales.isEmpty()) {
                throw ctx.unsupported(node, "nearest mode with scales computed at run time; the rounding of opset 10 "
                        + "(floor up, ceil down) depends on their values");
            } else {
                for (float s : ctx.floats(constantScales.get())) {
                    up &= s >= 1f;
                    down &= s <= 1f;
                }
            }
            if (!up && !down) {
                throw ctx.unsupported(node, "nearest mode that upsamples some axes and downsamples others");
            }
            resize.addAttribute(Nodes.attr("nearest_mode", up ? "floor" : "ceil"));
        }
        String roi = ctx.constant(node.getOutput(0) + "_roi", Tensors.ofFloats("", new long[] {0}, new float[0]), out);
        resize.clearInput().addInput(node.getInput(0)).addInput(roi).addInput(node.getInput(1));
        out.add(resize.build());
        return out;
    }

    /** Opset 13 dropped tf_half_pixel_for_nn and lets unused roi/scales be omitted instead of empty tensors. */
    private static List<NodeProto> resizeWithOptionalInputs(NodeProto node, UpgradeContext ctx) {
        if (Nodes.stringAttribute(node, "coordinate_transformation_mode", "").equals("tf_half_pixel_for_nn")) {
            throw ctx.unsupported(node, "coordinate_transformation_mode tf_half_pixel_for_nn no longer exists");
        }
        NodeProto.Builder resize = node.toBuilder();
        if (isEmptyConstant(ctx, node, 1)) {
            resize.setInput(1, "");
        }
        boolean hasSizes = node.getInputCount() > 3 && !node.getInput(3).isEmpty();
        if (hasSizes && isEmptyConstant(ctx, node, 2)) {
            resize.setInput(2, "");
        }
        return List.of(resize.build());
    }

    private static boolean isEmptyConstant(UpgradeContext ctx, NodeProto node, int input) {
        return node.getInputCount() > input && ctx.constantValue(node.getInput(input))
                .map(t -> Tensors.elementCount(t) == 0).orElse(false);
    }

    private static List<NodeProto> roiAlignKeepsOutputHalfPixel(NodeProto node, UpgradeContext ctx) {
        if (Nodes.attribute(node, "coordinate_transformation_mode").isPresent()) {
            return List.of(node);
        }
        // the attribute's default is half_pixel from opset 16; earlier versions behaved as output_half_pixel
        return List.of(node.toBuilder().addAttribute(Nodes.attr("coordinate_transformation_mode", "output_half_pixel")).build());
    }

    private static List<NodeProto> splitNumOutputs(NodeProto node, UpgradeContext ctx) {
        boolean hasSplit = node.getInputCount() > 1 && !node.getInput(1).isEmpty();
        if (hasSplit || Nodes.attribute(node, "num_outputs").isPresent()) {
            return List.of(node);
        }
        // Split-13 without 'split' divides into equal parts, one per output; Split-18 wants that count spelled out
        return List.of(node.toBuilder().addAttribute(Nodes.attr("num_outputs", (long) node.getOutputCount())).build());
    }

    private static List<NodeProto> gridSampleModeNames(NodeProto node, UpgradeContext ctx) {
        String mode = Nodes.stringAttribute(node, "mode", "bilinear");
        String renamed = switch (mode) {
            case "bilinear" -> "linear";
            case "bicubic" -> "cubic";
            default -> mode;
        };
        return List.of(without(node, "mode").addAttribute(Nodes.attr("mode", renamed)).build());
    }

    /**
     * GroupNormalization-18 took one scale and bias per group; from 21 they are per channel. Each per-group value is
     * repeated for the group's C / num_groups channels: Reshape [G, 1], Expand [G, C/G], Reshape [C].
     */
    private static List<NodeProto> groupNormalizationPerChannel(NodeProto node, UpgradeContext ctx) {
        long groups = Nodes.attribute(node, "num_groups").map(AttributeProto::getI)
                .orElseThrow(() -> ctx.unsupported(node, "the required attribute 'num_groups' is missing"));
        String y = node.getOutput(0);
        List<NodeProto> out = new ArrayList<>();
        String channels = ctx.fresh(y + "_channels");
        out.add(Nodes.node("Shape", ctx.fresh(channels + "_node"), List.of(node.getInput(0)), List.of(channels),
                Nodes.attr("start", 1L), Nodes.attr("end", 2L)));
        String groupCount = ctx.constant(y + "_groups", Tensors.ofLongs("", new long[] {1}, new long[] {groups}), out);
        String perGroup = ctx.fresh(y + "_channels_per_group");
        out.add(Nodes.node("Div", ctx.fresh(perGroup + "_node"), List.of(channels, groupCount), List.of(perGroup)));
        String one = ctx.constant(y + "_one", Tensors.ofLongs("", new long[] {1}, new long[] {1}), out);
        String expandShape = ctx.fresh(y + "_expand_shape");
        out.add(Nodes.node("Concat", ctx.fresh(expandShape + "_node"), List.of(one, perGroup), List.of(expandShape), Nodes.attr("axis", 0L)));
        String column = ctx.constant(y + "_column", Tensors.ofLongs("", new long[] {2}, new long[] {-1, 1}), out);
        String flat = ctx.constant(y + "_flat", Tensors.ofLongs("", new long[] {1}, new long[] {-1}), out);
        NodeProto.Builder norm = node.toBuilder();
        for (int input = 1; input <= 2; input++) {
            String v = node.getInput(input);
            String asColumn = ctx.fresh(v + "_per_group");
            String expanded = ctx.fresh(v + "_expanded");
            String perChannel = ctx.fresh(v + "_per_channel");
            out.add(Nodes.node("Reshape", ctx.fresh(asColumn + "_node"), List.of(v, column), List.of(asColumn)));
            out.add(Nodes.node("Expand", ctx.fresh(expanded + "_node"), List.of(asColumn, expandShape), List.of(expanded)));
            out.add(Nodes.node("Reshape", ctx.fresh(perChannel + "_node"), List.of(expanded, flat), List.of(perChannel)));
            norm.setInput(input, perChannel);
        }
        out.add(norm.build());
        return out;
    }

    // ------------------------------------------------------------------ helpers

    private static NodeProto.Builder without(NodeProto node, String... attributes) {
        NodeProto.Builder b = node.toBuilder().clearAttribute();
        List<String> drop = List.of(attributes);
        node.getAttributeList().stream().filter(a -> !drop.contains(a.getName())).forEach(b::addAttribute);
        return b;
    }

    /** Sets input {@code index}, filling skipped optional inputs with "". */
    private static NodeProto.Builder withInput(NodeProto.Builder node, int index, String value) {
        while (node.getInputCount() <= index) {
            node.addInput("");
        }
        return node.setInput(index, value);
    }

    /** A scalar of the input's floating-point type (the attributes that became inputs were floats). */
    private static TensorProto scalar(UpgradeContext ctx, NodeProto node, DataType type, float value) {
        return switch (type) {
            case FLOAT -> Tensors.scalarFloat("", value);
            case FLOAT16 -> Tensors.ofFloat16("", new long[0], new float[] {value});
            case BFLOAT16 -> Tensors.ofBfloat16("", new long[0], new float[] {value});
            case DOUBLE -> Tensors.raw("", DataType.DOUBLE, new long[0],
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(0, value));
            default -> throw ctx.unsupported(node, "its input is " + type.displayName() + ", which this opset did not allow");
        };
    }
}
