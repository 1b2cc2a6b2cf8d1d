package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.QuantType;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.WeightQuantizer;
import io.modelpress.core.quantize.qdq.OperatorRules.Kind;
import io.modelpress.core.quantize.qdq.calibration.QuantParams;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Rewrites a graph after its {@link QdqPlan}: QuantizeLinear/DequantizeLinear pairs on the planned values, int8 weights
 * with their DequantizeLinear, int32 biases (scale = input scale x weight scale). A value written by a unit keeps its
 * name on the DequantizeLinear's output, so every reader (graph outputs and subgraphs included) is untouched and the
 * unit's own output feeds nothing but its QuantizeLinear, as ONNX Runtime's fusion requires.
 */
final class QdqWriter {
    private static final double INT32_LIMIT = Integer.MAX_VALUE;

    private final OnnxModel model;
    private final QdqPlanner planner;
    private final QdqPlan plan;
    private final Map<String, QuantParams> calibrated;
    private final StaticSettings settings;
    private final UniqueNames names;
    /** Activations divided by SmoothQuant scales before their QuantizeLinear. */
    private final java.util.Set<String> smoothed;
    private final GraphIndex index;

    private final List<NodeProto> prefix = new ArrayList<>();
    private final Map<Integer, List<NodeProto>> after = new HashMap<>();
    private final List<TensorProto> initializers = new ArrayList<>();
    private final Map<String, String[]> sourceParams = new HashMap<>();
    /** Values computed in float that units read through a Q/DQ pair: value -> dequantized name. */
    private final Map<String, String> dequantizedReads = new HashMap<>();
    /** Producer outputs renamed so that a DequantizeLinear can take their name: old -> new. */
    private final Map<String, String> renamedOutputs = new HashMap<>();

    QdqWriter(OnnxModel model, QdqPlanner planner, QdqPlan plan, Map<String, QuantParams> calibrated, StaticSettings settings,
              java.util.Set<String> smoothed) {
        this.smoothed = smoothed;
        this.model = model;
        this.planner = planner;
        this.plan = plan;
        this.calibrated = calibrated;
        this.settings = settings;
        this.names = UniqueNames.of(model.graph());
        this.index = planner.index();
    }

    QuantParams params(String value) {
        return calibrated.get(plan.rangeSource.get(value));
    }

    void write(QuantizationReport report) {
        for (String value : plan.rangeSource.keySet()) {
            quantizeValue(value);
        }
        Map<Integer, NodeProto> rewritten = new HashMap<>();
        for (QdqPlan.Unit unit : plan.units.values()) {
            rewritten.put(unit.position(), rewriteUnit(unit, report));
        }
        poolBeforeActivations(rewritten);
        for (QdqPlan.Skip skip : plan.skipped) {
            report.skipped(io.modelpress.core.onnx.Graphs.nodeLabel(skip.node()), skip.node().getOpType(), skip.reason());
        }
        GraphProto.Builder graph = model.graph();
        List<NodeProto> nodes = new ArrayList<>(prefix);
        for (int position = 0; position < index.nodes().size(); position++) {
            NodeProto node = rewritten.getOrDefault(position, index.node(position));
            nodes.add(renameOutputs(node));
            nodes.addAll(after.getOrDefault(position, List.of()));
        }
        graph.clearNode().addAllNode(nodes);
        graph.addAllInitializer(initializers);
    }

    // ------------------------------------------------------------------ activations

    private void quantizeValue(String value) {
        QuantParams p = params(value);
        String[] scaleAndZero = sourceParams.computeIfAbsent(plan.rangeSource.get(value), source -> {
            String scale = names.fresh(source + "_scale");
            String zero = names.fresh(source + "_zero_point");
            initializers.add(Tensors.scalarFloat(scale, p.scale()));
            initializers.add(zeroPoint(zero, p.type(), new long[0], new int[] {p.zeroPoint()}));
            return new String[] {scale, zero};
        });
        String quantized = names.fresh(value + "_quantized");
        List<NodeProto> pair = new ArrayList<>();
        String dequantized;
        String quantizeInput;
        if (plan.producedQuantized.contains(value)) {
            quantizeInput = names.fresh(value + "_float");
            renamedOutputs.put(value, quantizeInput);
            dequantized = value;
        } else {
            quantizeInput = value;
            dequantized = names.fresh(value + "_dequantized");
            dequantizedReads.put(value, dequantized);
        }
        pair.add(Nodes.node("QuantizeLinear", names.fresh(value + "_QuantizeLinear"),
                List.of(quantizeInput, scaleAndZero[0], scaleAndZero[1]), List.of(quantized)));
        pair.add(Nodes.node("DequantizeLinear", names.fresh(value + "_DequantizeLinear"),
                List.of(quantized, scaleAndZero[0], scaleAndZero[1]), List.of(dequantized)));
        Integer producer = index.producerOf(value).orElse(null);
        if (producer == null) {
            prefix.addAll(pair);
        } else {
            after.computeIfAbsent(producer, p2 -> new ArrayList<>()).addAll(pair);
        }
    }

    private NodeProto renameOutputs(NodeProto node) {
        NodeProto.Builder b = null;
        for (int i = 0; i < node.getOutputCount(); i++) {
            String renamed = renamedOutputs.get(node.getOutput(i));
            if (renamed != null) {
                if (b == null) {
                    b = node.toBuilder();
                }
                b.setOutput(i, renamed);
            }
        }
        return b == null ? node : b.build();
    }

    /**
     * Where a value computed in float is quantized right after Relu -> MaxPool, pools first: relu(maxpool(x)) equals
     * maxpool(relu(x)), and the ReLU then sits right before the QuantizeLinear, which absorbs it. The MaxPool stays
     * in float: left between the ReLU and the Q, ONNX Runtime moves the Q above it and runs it on uint8 values in
     * NCHW layout, many times slower than its float kernel (measured 3.7 ms vs 0.04 ms for 100k outputs).
     */
    private void poolBeforeActivations(Map<Integer, NodeProto> rewritten) {
        for (String value : dequantizedReads.keySet()) {
            Integer poolAt = index.producerOf(value).orElse(null);
            if (poolAt == null || rewritten.containsKey(poolAt)) {
                continue;
            }
            NodeProto pool = index.node(poolAt);
            if (!pool.getOpType().equals("MaxPool") || !OperatorRules.handles(pool) || pool.getOutputCount() != 1) {
                continue;
            }
            String activated = pool.getInput(0);
            Integer reluAt = index.producerOf(activated).orElse(null);
            if (reluAt == null || rewritten.containsKey(reluAt) || index.consumersOf(activated).size() != 1 || index.isGraphOutput(activated)) {
                continue;
            }
            NodeProto relu = index.node(reluAt);
            if (!relu.getOpType().equals("Relu") || !OperatorRules.handles(pool)) {
                continue;
            }
            rewritten.put(reluAt, pool.toBuilder().setInput(0, relu.getInput(0)).setOutput(0, activated).build());
            rewritten.put(poolAt, relu.toBuilder().setInput(0, activated).setOutput(0, value).build());
        }
    }

    // ------------------------------------------------------------------ units

    private NodeProto rewriteUnit(QdqPlan.Unit unit, QuantizationReport report) {
        NodeProto.Builder node = unit.node().toBuilder();
        for (int slot : unit.activationSlots()) {
            String read = dequantizedReads.get(node.getInput(slot));
            if (read != null) {
                node.setInput(slot, read);
            }
        }
        String label = unit.label();
        String op = unit.node().getOpType();
        if (!unit.kind().weighted()) {
            QuantParams out = params(plan.quantizedOutputs.get(unit.position()));
            QuantParams in = params(unit.node().getInput(unit.activationSlots().get(0)));
            String type = out.type().name().toLowerCase(java.util.Locale.ROOT);
            String scheme = unit.kind() == Kind.PASS_THROUGH
                    ? "runs on " + type + " values with its input's scale"
                    : type + (settings.symmetricActivations() ? " symmetric" : " asymmetric") + " activations" + absorbed(unit);
            report.quantized(label, op, scheme, new float[] {in.scale(), out.scale()});
            return node.build();
        }
        float alpha = 1f;
        float beta = 1f;
        if (unit.kind() == Kind.GEMM) {
            alpha = Nodes.floatAttribute(unit.node(), "alpha", 1f);
            beta = Nodes.floatAttribute(unit.node(), "beta", 1f);
            setFloatAttribute(node, "alpha", 1f);
            if (unit.biasSlot() >= 0) {
                setFloatAttribute(node, "beta", 1f);
            }
        }
        QuantParams input = params(unit.node().getInput(unit.activationSlots().get(0)));
        String weightName = unit.node().getInput(unit.weightSlot());
        TensorProto weight = planner.constant(weightName).orElseThrow();
        long[] dims = Tensors.dims(weight);
        float[] w = scaled(model.floats(weight), alpha);
        float[] bias = unit.biasSlot() >= 0 ? scaled(model.floats(planner.constant(unit.node().getInput(unit.biasSlot())).orElseThrow()), beta) : null;
        int channels = unit.weightAxis() >= 0 ? (int) dims[unit.weightAxis()] : 1;
        if (bias != null && bias.length == 1 && unit.kind() == Kind.GEMM) {
            long n = dims[Nodes.intAttribute(unit.node(), "transB", 0) != 0 ? 0 : 1];
            float value = bias[0];
            bias = new float[(int) n];
            java.util.Arrays.fill(bias, value);
        }
        WeightQuantizer.Quantized q = quantizeWeight(w, dims, unit.weightAxis(), bias, input.scale());

        String quantized = names.fresh(weightName + "_quantized");
        String scale = names.fresh(weightName + "_scale");
        String zero = names.fresh(weightName + "_zero_point");
        String dequantized = names.fresh(weightName + "_dequantized");
        long[] paramDims = unit.weightAxis() >= 0 ? new long[] {channels} : new long[0];
        initializers.add(Tensors.ofBytes(quantized, settings.weights().dataType(), dims, q.bytes()));
        initializers.add(Tensors.ofFloats(scale, paramDims, q.scales()));
        initializers.add(zeroPoint(zero, settings.weights(), paramDims, q.zeroPoints()));
        List<AttributeProto> axis = unit.weightAxis() >= 0 ? List.of(Nodes.attr("axis", (long) unit.weightAxis())) : List.of();
        prefix.add(Nodes.node("DequantizeLinear", names.fresh(weightName + "_DequantizeLinear"), List.of(quantized, scale, zero),
                List.of(dequantized), axis.toArray(AttributeProto[]::new)));
        node.setInput(unit.weightSlot(), dequantized);

        if (bias != null) {
            node.setInput(unit.biasSlot(), quantizeBias(unit.node().getInput(unit.biasSlot()), bias, input.scale(), q.scales()));
        }
        String scheme = settings.describe() + (bias != null ? ", int32 bias" : "") + absorbed(unit)
                + (smoothed.contains(unit.node().getInput(0)) ? ", SmoothQuant alpha " + settings.smoothQuant().getAsDouble() : "")
                + (plan.quantizedOutputs.containsKey(unit.position()) ? "" : ", float output");
        report.quantized(label, op, scheme, q.scales());
        return node.build();
    }

    private String absorbed(QdqPlan.Unit unit) {
        for (Map.Entry<Integer, String> e : plan.fusedActivations.entrySet()) {
            if (e.getValue().equals(unit.label())) {
                return ", absorbs " + index.node(e.getKey()).getOpType() + " '" + io.modelpress.core.onnx.Graphs.nodeLabel(index.node(e.getKey())) + "'";
            }
        }
        return "";
    }

    /**
     * Quantizes a weight, raising the scale of any channel whose bias would not fit int32 at input scale x weight
     * scale (tiny weights with a large bias), so the bias stays exact to one int32 step.
     */
    private WeightQuantizer.Quantized quantizeWeight(float[] w, long[] dims, int axis, float[] bias, float inputScale) {
        QuantType type = settings.weights();
        WeightQuantizer.Quantized q = axis >= 0
                ? WeightQuantizer.perChannel(w, dims, axis, type, true)
                : WeightQuantizer.perTensor(w, type, settings.weightsSymmetric());
        if (bias == null) {
            return q;
        }
        float[] scales = q.scales().clone();
        boolean raised = false;
        for (int c = 0; c < bias.length; c++) {
            int s = scales.length == 1 ? 0 : c;
            double needed = Math.abs(bias[c]) / (inputScale * INT32_LIMIT * 0.5);
            if (scales[s] < needed) {
                scales[s] = (float) needed;
                raised = true;
            }
        }
        if (!raised) {
            return q;
        }
        int channels = scales.length;
        long inner = 1;
        for (int d = axis + 1; axis >= 0 && d < dims.length; d++) {
            inner *= dims[d];
        }
        int[] values = new int[w.length];
        for (int i = 0; i < w.length; i++) {
            int g = axis >= 0 ? (int) ((i / inner) % channels) : 0;
            long v = Math.round(w[i] / scales[g]) + q.zeroPoints()[g];
            values[i] = (int) Math.max(type.min(), Math.min(type.max(), v));
        }
        return new WeightQuantizer.Quantized(values, scales, q.zeroPoints(), type);
    }

    private String quantizeBias(String biasName, float[] bias, float inputScale, float[] weightScales) {
        int[] values = new int[bias.length];
        float[] scales = new float[weightScales.length];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = inputScale * weightScales[i];
        }
        for (int c = 0; c < bias.length; c++) {
            double v = Math.rint(bias[c] / (double) scales[scales.length == 1 ? 0 : c]);
            values[c] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
        }
        String quantized = names.fresh(biasName + "_quantized");
        String scale = names.fresh(biasName + "_scale");
        String dequantized = names.fresh(biasName + "_dequantized");
        initializers.add(Tensors.ofInts(quantized, new long[] {bias.length}, values));
        initializers.add(Tensors.ofFloats(scale, scales.length == 1 ? new long[0] : new long[] {scales.length}, scales));
        List<AttributeProto> axis = scales.length == 1 ? List.of() : List.of(Nodes.attr("axis", 0L));
        prefix.add(Nodes.node("DequantizeLinear", names.fresh(biasName + "_DequantizeLinear"), List.of(quantized, scale),
                List.of(dequantized), axis.toArray(AttributeProto[]::new)));
        return dequantized;
    }

    private static TensorProto zeroPoint(String name, QuantType type, long[] dims, int[] zeroPoints) {
        byte[] bytes = new byte[zeroPoints.length];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) zeroPoints[i];
        }
        return Tensors.ofBytes(name, type.dataType(), dims, bytes);
    }

    private static float[] scaled(float[] values, float factor) {
        if (factor != 1f) {
            for (int i = 0; i < values.length; i++) {
                values[i] *= factor;
            }
        }
        return values;
    }

    private static void setFloatAttribute(NodeProto.Builder node, String name, float value) {
        for (int i = 0; i < node.getAttributeCount(); i++) {
            if (node.getAttribute(i).getName().equals(name)) {
                node.setAttribute(i, Nodes.attr(name, value));
                return;
            }
        }
    }
}
