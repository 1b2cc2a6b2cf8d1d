package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.quantize.qdq.OperatorRules.Kind;
import io.modelpress.core.transform.ValueTypes;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decides the {@link QdqPlan} of a graph. A value is quantized when a unit reads it as an activation or when a unit's
 * integer kernel must write it (Conv, Add, pooling...). Pass-through operators join in when their input or output is
 * quantized anyway, and share its scale, so that ONNX Runtime drops their Q/DQ pair. A Relu (or Clip from 0) right after
 * a unit is absorbed by the unit's QuantizeLinear when activations are asymmetric: its range then starts at 0.
 */
final class QdqPlanner implements OperatorRules.NodeFacts {
    /**
     * ONNX Runtime 1.26's fast integer convolution (MLAS ConvSym) needs a multiple of 4 input channels per group; other
     * counts take a generic im2col path that, below 8 channels, is slower than the float Conv (measured on AVX-512
     * VNNI, 14x14 to 28x28 images: 1 channel 4x, 3 channels 2x, 5 to 7 channels 1.1-1.4x slower; 9 channels break
     * even). Such a Conv - typically a first layer on grey or RGB images - stays in float. Depthwise convolutions
     * have their own fast integer kernel and are quantized.
     */
    static boolean slowIntegerConv(long channelsPerGroup) {
        return channelsPerGroup < 8 && channelsPerGroup % 4 != 0;
    }

    private final OnnxModel model;
    private final StaticSettings settings;
    private final GraphIndex index;
    private final Map<String, ValueTypes.TensorType> types;
    private final Map<String, TensorProto> constants = new HashMap<>();

    QdqPlanner(OnnxModel model, StaticSettings settings, Map<String, ValueTypes.TensorType> types) {
        this.model = model;
        this.settings = settings;
        this.index = new GraphIndex(model.graph());
        this.types = types;
        model.graph().getInitializerList().forEach(t -> constants.put(t.getName(), t));
        for (NodeProto node : model.graph().getNodeList()) {
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1) {
                Weights.constantValue(node).ifPresent(t -> constants.put(node.getOutput(0), t));
            }
        }
    }

    GraphIndex index() {
        return index;
    }

    @Override
    public Optional<TensorProto> constant(String value) {
        return Optional.ofNullable(constants.get(value));
    }

    /**
     * @param keptInFloat node positions to leave in float whatever the rules say, with the reason to report
     */
    QdqPlan plan(Map<Integer, String> keptInFloat) {
        QdqPlan plan = new QdqPlan();
        for (int position : index.topologicalOrder()) {
            NodeProto node = index.node(position);
            OperatorRules.Handler handler = OperatorRules.handlerOf(node);
            if (handler == null) {
                continue;
            }
            Kind kind = handler.kind();
            String reason = settings.selector().exclusionReason(node);
            if (reason == null) {
                reason = keptInFloat.get(position);
            }
            QdqPlan.Unit unit = null;
            if (reason == null) {
                Object analysed = handler.analysis().analyse(this, position, node);
                if (analysed instanceof String why) {
                    reason = why;
                } else {
                    unit = (QdqPlan.Unit) analysed;
                }
            }
            if (unit != null) {
                plan.units.put(position, unit);
            } else if (kind.weighted() || !settings.selector().selects(node)) {
                // element-wise and pooling nodes that do not qualify are routine (a bias Add, a scaling Mul): not reported
                plan.skipped.add(new QdqPlan.Skip(node, reason));
            }
        }
        keepJoinsOfIntegerValuesOnly(plan);
        decideValues(plan);
        return plan;
    }

    /**
     * An Add, Mul or Concat pays off in 8 bits only where its inputs are 8-bit anyway: written by another integer
     * kernel (a Conv, a pooling, another join, through an absorbed ReLU or pass-through operators) or read by a Conv,
     * MatMul or Gemm as its activation. Elsewhere, quantizing it adds conversions and forces one per-tensor scale on a
     * value that nothing else needed in 8 bits - in a transformer the residual stream, whose outlier channels are
     * 10-100x the rest, and the inside of GELU: measured on e5-small-v2, output cosine 0.746 with those joins quantized,
     * 0.997 without. Such joins stay float unless named in include.nodes. Removing one can disqualify the next, so
     * this repeats until nothing changes.
     */
    private void keepJoinsOfIntegerValuesOnly(QdqPlan plan) {
        boolean changed = true;
        while (changed) {
            Set<String> integer = integerValues(plan);
            changed = plan.units.values().removeIf(unit -> (unit.kind() == Kind.BINARY || unit.kind() == Kind.CONCAT)
                    && !settings.selector().includeNames().contains(unit.node().getName())
                    && !unit.activationSlots().stream().allMatch(slot -> integer.contains(unit.node().getInput(slot))));
        }
    }

    /** Values the plan's units read or write in 8 bits whatever the joins do (see keepJoinsOfIntegerValuesOnly). */
    private Set<String> integerValues(QdqPlan plan) {
        Set<String> integer = new java.util.HashSet<>();
        for (QdqPlan.Unit unit : plan.units.values()) {
            if (unit.kind().weighted()) {
                unit.activationSlots().forEach(slot -> integer.add(unit.node().getInput(slot)));
            }
            if (unit.kind() != Kind.PASS_THROUGH && unit.kind().outputRequired()) {
                integer.add(terminal(unit));
            }
        }
        boolean grown = true;
        while (grown) {
            grown = false;
            for (QdqPlan.Unit unit : plan.units.values()) {
                if (unit.kind() == Kind.PASS_THROUGH && integer.contains(unit.node().getInput(0))) {
                    grown |= integer.add(unit.node().getOutput(0));
                }
            }
        }
        return integer;
    }

    static String input(NodeProto node, int slot) {
        return slot < node.getInputCount() ? node.getInput(slot) : "";
    }

    @Override
    public StaticSettings settings() {
        return settings;
    }

    /** Null when the input is a float32 value computed at run time, else why it cannot be a quantized activation. */
    @Override
    public String activation(NodeProto node, int slot) {
        String value = input(node, slot);
        if (value.isEmpty()) {
            return "input " + slot + " is missing";
        }
        if (constants.containsKey(value)) {
            return "input '" + value + "' is a constant (only run-time values are quantized as activations here)";
        }
        ValueTypes.TensorType type = types.get(value);
        if (type == null || type.elementType() != DataType.FLOAT) {
            return "input '" + value + "' is " + (type == null ? "of unknown type" : type.elementType().displayName()) + ", not float32";
        }
        return null;
    }

    /** The bias slot, -1 without a bias, -2 when it cannot be quantized. */
    @Override
    public int biasSlot(NodeProto node, int slot, long channels) {
        String name = input(node, slot);
        if (name.isEmpty()) {
            return -1;
        }
        TensorProto b = constants.get(name);
        if (b == null || DataType.of(b) != DataType.FLOAT) {
            return -2;
        }
        long n = Tensors.elementCount(b);
        return n == channels || n == 1 ? slot : -2;
    }

    private void decideValues(QdqPlan plan) {
        Map<String, String> source = plan.rangeSource;
        // 1. activations read by computing units, and outputs their kernels must write
        for (QdqPlan.Unit unit : plan.units.values()) {
            if (unit.kind() == Kind.PASS_THROUGH) {
                continue;
            }
            for (int slot : unit.activationSlots()) {
                String v = unit.node().getInput(slot);
                source.put(v, v);
            }
            if (unit.kind().outputRequired()) {
                String out = terminal(unit);
                source.put(out, out);
            }
        }
        // 2. pass-through units join where their input arrives quantized from a unit, and share its scale: they then
        //    move 8-bit values. Where the input comes from float, the operator runs in float before the Q (a uint8
        //    MaxPool outside ONNX Runtime's NHWC integer region is many times slower than the float one).
        Set<String> arrivesQuantized = plan.producedQuantized;
        boolean changed = true;
        while (changed) {
            changed = false;
            for (QdqPlan.Unit unit : plan.units.values()) {
                if (unit.kind() != Kind.PASS_THROUGH) {
                    String out = terminal(unit);
                    changed |= source.containsKey(out) && arrivesQuantized.add(out);
                } else if (arrivesQuantized.contains(unit.node().getInput(0)) && arrivesQuantized.add(unit.node().getOutput(0))) {
                    source.put(unit.node().getOutput(0), unit.node().getInput(0));
                    changed = true;
                }
            }
        }
        plan.units.values().removeIf(u -> u.kind() == Kind.PASS_THROUGH && !arrivesQuantized.contains(u.node().getInput(0)));
        // resolve chains of sharing to the calibrated value at their head
        for (Map.Entry<String, String> e : source.entrySet()) {
            String head = e.getValue();
            for (int guard = 0; !source.get(head).equals(head) && guard < source.size(); guard++) {
                head = source.get(head);
            }
            e.setValue(head);
        }
        // 3. a ReLU between a unit and its quantized output is absorbed by that output's QuantizeLinear
        for (QdqPlan.Unit unit : plan.units.values()) {
            String out = terminal(unit);
            if (source.containsKey(out)) {
                plan.quantizedOutputs.put(unit.position(), out);
                if (!out.equals(unit.node().getOutput(0))) {
                    plan.fusedActivations.put(index.producerOf(out).orElseThrow(), unit.label());
                }
            }
        }
    }

    /** The value whose Q closes a unit: its output, or the output of a ReLU right after it that a Q makes redundant. */
    private String terminal(QdqPlan.Unit unit) {
        String out = unit.node().getOutput(0);
        if (unit.kind() == Kind.PASS_THROUGH) {
            return out;
        }
        Integer relu = fusableActivation(out);
        return relu == null ? out : index.node(relu).getOutput(0);
    }

    /** Position of a ReLU/Clip(0, ..) that alone reads {@code value} and that a Q after it makes redundant, or null. */
    private Integer fusableActivation(String value) {
        if (settings.symmetricActivations() || index.isGraphOutput(value)) {
            return null;
        }
        List<Integer> readers = index.consumersOf(value);
        if (readers.size() != 1) {
            return null;
        }
        NodeProto reader = index.node(readers.get(0));
        boolean redundant = OperatorRules.isRedundantUnderQuantization(reader,
                name -> constant(name).filter(t -> DataType.of(t) == DataType.FLOAT).map(model::floats).orElse(null));
        return redundant && reader.getInput(0).equals(value) ? readers.get(0) : null;
    }

    /** Names already in use, for the writer. */
    Set<String> constantNames() {
        return constants.keySet();
    }
}
