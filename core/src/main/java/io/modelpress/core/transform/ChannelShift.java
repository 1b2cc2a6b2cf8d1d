package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Centres the channels of an activation at no run-time cost (the shift of Outlier Suppression+, Wei et al., 2023).
 * Run-time quantization covers [min, max] of the whole tensor, so a channel that lives in [-2, 28] stretches the
 * range for all. Subtracting its centre c where the activation is made (the bias of a LayerNorm or of an Add) and
 * adding c back where it is consumed keeps the model exact:
 * <ul>
 *   <li>a MatMul/Gemm consumer followed by a bias: bias += c @ W;</li>
 *   <li>a residual Add whose other operand ends in a bias Add: that bias += c;</li>
 *   <li>Shape consumers do not care.</li>
 * </ul>
 * Any other consumer (or a graph output) leaves the activation as it is. Only constants change: no node is added.
 */
public final class ChannelShift implements Pass.WithoutOptions {
    public static final String NAME = "channel_shift";
    /** Shift only where the tensor's range shrinks by at least this factor. */
    static final double MIN_GAIN = 1.1;

    private final ChannelRanges ranges;
    private final ProductGroups groups;

    /** Shifts the activations of {@code groups} by their observed {@code ranges}, and records the shift in the ranges. */
    public ChannelShift(ChannelRanges ranges, ProductGroups groups) {
        this.ranges = ranges;
        this.groups = groups;
    }

    @Override
    public String name() {
        return NAME;
    }


    @Override
    public PassResult apply(OnnxModel model) {
        int shifted = shift(model, ranges, groups.of(model));
        return PassResult.changed(NAME, shifted, shifted + " activations centred per channel (folded into biases, no extra nodes)");
    }

    /** A constant to replace with new values. */
    private record Edit(int position, int input, float[] values) {
    }

    /** @return how many activations were shifted */
    private static int shift(OnnxModel model, ChannelRanges ranges, Map<String, List<Integer>> groups) {
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        int shifted = 0;
        for (String activation : groups.keySet()) {
            ChannelRanges.Range range = ranges.range(activation);
            if (range == null || index.isGraphOutput(activation)) {
                continue;
            }
            int channels = range.channels();
            float[] centre = new float[channels];
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            float halfSpan = 0;
            for (int k = 0; k < channels; k++) {
                centre[k] = (range.min()[k] + range.max()[k]) / 2;
                min = Math.min(min, range.min()[k]);
                max = Math.max(max, range.max()[k]);
                halfSpan = Math.max(halfSpan, (range.max()[k] - range.min()[k]) / 2);
            }
            if (!(max - min >= MIN_GAIN * 2 * halfSpan)) {
                continue;
            }
            List<Edit> edits = new ArrayList<>();
            if (!producerEdit(editor, activation, centre, edits) || !consumerEdits(editor, activation, centre, edits)) {
                continue;
            }
            if (edits.stream().anyMatch(e -> editor.isReplaced(e.position()))
                    || edits.stream().map(Edit::position).distinct().count() != edits.size()) {
                continue;
            }
            for (Edit edit : edits) {
                NodeProto node = index.node(edit.position());
                String original = edit.input() < node.getInputCount() ? node.getInput(edit.input()) : activation + "_bias";
                String name = editor.freshName(original + "_shifted");
                editor.addInitializer(Tensors.ofFloats(name, new long[] {edit.values().length}, edit.values()));
                editor.mayBeUnused(original);
                NodeProto.Builder b = node.toBuilder();
                if (edit.input() < node.getInputCount()) {
                    b.setInput(edit.input(), name);
                } else {
                    b.addInput(name);
                }
                editor.replace(edit.position(), List.of(b.build()));
            }
            ranges.shift(activation, centre);
            shifted++;
        }
        editor.apply();
        return shifted;
    }

    /** beta - c for the activation's producer: LayerNormalization's bias, or Add(x, beta). */
    private static boolean producerEdit(GraphEditor editor, String activation, float[] c, List<Edit> edits) {
        OnnxModel model = editor.model();
        Optional<Integer> producer = editor.index().producerOf(activation);
        if (producer.isEmpty()) {
            return false;
        }
        NodeProto node = editor.index().node(producer.get());
        int input;
        float[] beta;
        if (ChannelScaling.isDefault(node, "LayerNormalization") && node.getOutputCount() == 1) {
            input = 2;
            if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
                Optional<float[]> b = exactlyPerChannel(model, node.getInput(2), c.length);
                if (b.isEmpty()) {
                    return false;
                }
                beta = b.get();
            } else if (node.getInputCount() == 2) {
                beta = new float[c.length];
            } else {
                return false;
            }
        } else if (ChannelScaling.isDefault(node, "Add") && ChannelScaling.constantInput(model, node) >= 0) {
            input = ChannelScaling.constantInput(model, node);
            Optional<float[]> b = exactlyPerChannel(model, node.getInput(input), c.length);
            if (b.isEmpty()) {
                return false;
            }
            beta = b.get();
        } else {
            return false;
        }
        float[] values = beta.clone();
        for (int k = 0; k < c.length; k++) {
            values[k] -= c[k];
        }
        edits.add(new Edit(producer.get(), input, values));
        return true;
    }

    private static boolean consumerEdits(GraphEditor editor, String activation, float[] c, List<Edit> edits) {
        OnnxModel model = editor.model();
        GraphIndex index = editor.index();
        for (int position : index.consumersOf(activation)) {
            NodeProto node = index.node(position);
            if (ChannelScaling.isDefault(node, "Shape")) {
                continue;
            }
            boolean gemm = ChannelScaling.isDefault(node, "Gemm") && io.modelpress.core.onnx.Nodes.intAttribute(node, "transA", 0) == 0;
            if ((ChannelScaling.isDefault(node, "MatMul") || gemm) && node.getInput(0).equals(activation)
                    && !node.getInput(1).equals(activation) && model.constant(node.getInput(1)).isPresent()) {
                if (!biasEdit(editor, node, position, c, edits)) {
                    return false;
                }
                continue;
            }
            if (ChannelScaling.isDefault(node, "Add") && node.getInputCount() == 2 && !node.getInput(0).equals(node.getInput(1))) {
                String other = node.getInput(0).equals(activation) ? node.getInput(1) : node.getInput(0);
                Optional<Integer> otherProducer = index.producerOf(other);
                if (otherProducer.isEmpty() || !ChannelScaling.onlyReadBy(index, other, List.of(position))) {
                    return false;
                }
                NodeProto add = index.node(otherProducer.get());
                int constant = ChannelScaling.constantInput(model, add);
                if (!ChannelScaling.isDefault(add, "Add") || constant < 0) {
                    return false;
                }
                Optional<float[]> bias = exactlyPerChannel(model, add.getInput(constant), c.length);
                if (bias.isEmpty()) {
                    return false;
                }
                float[] values = bias.get().clone();
                for (int k = 0; k < c.length; k++) {
                    values[k] += c[k];
                }
                edits.add(new Edit(otherProducer.get(), constant, values));
                continue;
            }
            return false;
        }
        return true;
    }

    /** bias + c @ W for a MatMul/Gemm whose output goes through one bias Add (or a Gemm's constant C). */
    private static boolean biasEdit(GraphEditor editor, NodeProto node, int position, float[] c, List<Edit> edits) {
        OnnxModel model = editor.model();
        GraphIndex index = editor.index();
        ChannelScaling.Matrix w = ChannelScaling.weight(model, node);
        if (w.rows() != c.length || model.constant(node.getInput(1)).get().getDimsCount() != 2) {
            return false;
        }
        float[] shift = new float[w.cols()];
        for (int k = 0; k < w.rows(); k++) {
            if (c[k] != 0) {
                for (int n = 0; n < w.cols(); n++) {
                    shift[n] += c[k] * w.get(k, n);
                }
            }
        }
        if (ChannelScaling.isDefault(node, "Gemm")) {
            float alpha = io.modelpress.core.onnx.Nodes.floatAttribute(node, "alpha", 1f);
            float beta = io.modelpress.core.onnx.Nodes.floatAttribute(node, "beta", 1f);
            if (beta == 0f) {
                return false;
            }
            float[] bias = new float[w.cols()];
            if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
                Optional<float[]> existing = exactlyPerChannel(model, node.getInput(2), w.cols());
                if (existing.isEmpty()) {
                    return false;
                }
                bias = existing.get().clone();
            }
            for (int n = 0; n < bias.length; n++) {
                bias[n] += alpha * shift[n] / beta;
            }
            edits.add(new Edit(position, 2, bias));
            return true;
        }
        String product = node.getOutput(0);
        List<Integer> readers = index.consumersOf(product);
        if (readers.size() != 1 || index.isGraphOutput(product)) {
            return false;
        }
        NodeProto add = index.node(readers.get(0));
        int constant = ChannelScaling.constantInput(model, add);
        if (!ChannelScaling.isDefault(add, "Add") || constant < 0) {
            return false;
        }
        Optional<float[]> bias = exactlyPerChannel(model, add.getInput(constant), w.cols());
        if (bias.isEmpty()) {
            return false;
        }
        float[] values = bias.get().clone();
        for (int n = 0; n < values.length; n++) {
            values[n] += shift[n];
        }
        edits.add(new Edit(readers.get(0), constant, values));
        return true;
    }

    /** A constant holding exactly one value per channel (so that replacing it keeps every shape). */
    private static Optional<float[]> exactlyPerChannel(OnnxModel model, String name, int channels) {
        return model.constant(name).filter(t -> Tensors.elementCount(t) == channels && t.getDimsCount() == 1)
                .flatMap(t -> ChannelScaling.perChannelConstant(model, name, channels));
    }
}
