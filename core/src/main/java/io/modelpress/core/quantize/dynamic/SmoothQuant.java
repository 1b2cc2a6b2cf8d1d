package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * SmoothQuant (Xiao et al., 2023) for run-time activation quantization. One per-tensor scale must cover all
 * channels of an activation, so a few outlier channels (LayerNorm outputs of transformers reach 10x the typical
 * channel) waste most of the 8 bits. Dividing channel k of the activation by s_k and multiplying row k of every
 * consuming weight by s_k leaves the product unchanged and moves the difficulty into the weights, whose per-column
 * scales absorb it: s_k = max|x_k|^alpha / max|W_k|^(1-alpha).
 *
 * <p>The division is free where the activation ends in a per-channel affine step that nothing else reads
 * (LayerNormalization, or Mul by gamma / Add beta): 1/s folds into those constants. Elsewhere, e.g. a LayerNorm whose
 * output also feeds a residual Add, one Mul by 1/s feeds the MatMuls only; it costs an elementwise pass, so it is
 * added only where the outliers are large.
 */
final class SmoothQuant {
    /** Outlier strength (largest channel max / median channel max) that justifies an extra Mul. */
    static final double MIN_RATIO_FOR_MUL = 8;
    /** Below this strength smoothing changes little, even where it is free. */
    static final double MIN_RATIO = 3;

    private SmoothQuant() {
    }

    /** What was smoothed, for the report. */
    record Result(int folded, int multiplied) {
    }

    /**
     * @param groups activation -> positions of the MatMul/Gemm nodes (weights second, 2-D) that will be quantized
     */
    static Result apply(OnnxModel model, ChannelRanges ranges, Map<String, List<Integer>> groups, double alpha) {
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        int folded = 0;
        int multiplied = 0;
        for (Map.Entry<String, List<Integer>> group : groups.entrySet()) {
            String activation = group.getKey();
            float[] xMax = ranges.absMax(activation);
            if (xMax == null || xMax.length < 2) {
                continue;
            }
            double ratio = OutlierChannels.strength(xMax);
            if (ratio < MIN_RATIO) {
                continue;
            }
            List<ChannelScaling.Matrix> weights = new ArrayList<>();
            for (int position : group.getValue()) {
                weights.add(ChannelScaling.weight(model, index.node(position)));
            }
            if (weights.stream().anyMatch(w -> w.rows() != xMax.length)) {
                continue;
            }
            float[] s = scales(xMax, weights, alpha);
            boolean fold = ChannelScaling.onlyReadBy(index, activation, group.getValue()) && foldIntoProducer(editor, activation, s);
            if (!fold && ratio < MIN_RATIO_FOR_MUL) {
                continue;
            }
            String smoothed = activation;
            if (fold) {
                folded++;
            } else {
                smoothed = editor.freshName(activation + "_smoothed");
                float[] inverse = new float[s.length];
                for (int k = 0; k < s.length; k++) {
                    inverse[k] = 1f / s[k];
                }
                String inverseName = editor.freshName(activation + "_smooth_scale");
                editor.addInitializer(Tensors.ofFloats(inverseName, new long[] {s.length}, inverse));
                int first = group.getValue().stream().mapToInt(Integer::intValue).min().orElseThrow();
                editor.insertBefore(first, List.of(Nodes.node("Mul", editor.freshName(activation + "_smooth_Mul"),
                        List.of(activation, inverseName), List.of(smoothed))));
                multiplied++;
            }
            for (int i = 0; i < group.getValue().size(); i++) {
                int position = group.getValue().get(i);
                ChannelScaling.Matrix w = weights.get(i);
                float[] scaled = w.values().clone();
                for (int k = 0; k < w.rows(); k++) {
                    for (int n = 0; n < w.cols(); n++) {
                        scaled[k * w.cols() + n] *= s[k];
                    }
                }
                NodeProto node = ChannelScaling.withWeight(editor, index.node(position),
                        new ChannelScaling.Matrix(scaled, w.rows(), w.cols()), "_smoothed");
                editor.replace(position, List.of(node.toBuilder().setInput(0, smoothed).build()));
            }
        }
        editor.apply();
        return new Result(folded, multiplied);
    }

    static float[] scales(float[] xMax, List<ChannelScaling.Matrix> weights, double alpha) {
        float[] s = new float[xMax.length];
        for (int k = 0; k < xMax.length; k++) {
            float wMax = 0;
            for (ChannelScaling.Matrix w : weights) {
                for (int n = 0; n < w.cols(); n++) {
                    wMax = Math.max(wMax, Math.abs(w.get(k, n)));
                }
            }
            double value = xMax[k] > 0 && wMax > 0 ? Math.pow(xMax[k], alpha) / Math.pow(wMax, 1 - alpha) : 1;
            s[k] = (float) Math.max(value, 1e-5);
        }
        // a common factor changes nothing but the numbers' magnitude; keep the typical channel at 1
        float[] sorted = s.clone();
        Arrays.sort(sorted);
        float median = sorted[sorted.length / 2];
        for (int k = 0; k < s.length; k++) {
            s[k] /= median;
        }
        return s;
    }

    /**
     * Divides the activation by s inside its producer when that ends in per-channel constants: LayerNormalization's
     * scale and bias, or Mul(x, gamma) [-> Add(., beta)]. Returns false (and changes nothing) otherwise.
     */
    private static boolean foldIntoProducer(GraphEditor editor, String activation, float[] s) {
        OnnxModel model = editor.model();
        GraphIndex index = editor.index();
        Optional<Integer> producer = index.producerOf(activation);
        if (producer.isEmpty() || editor.isReplaced(producer.get())) {
            return false;
        }
        int position = producer.get();
        NodeProto node = index.node(position);
        int channels = s.length;
        if (ChannelScaling.isDefault(node, "LayerNormalization") && node.getOutputCount() == 1) {
            Optional<float[]> gamma = ChannelScaling.perChannelConstant(model, node.getInput(1), channels);
            Optional<float[]> beta = node.getInputCount() > 2 && !node.getInput(2).isEmpty()
                    ? ChannelScaling.perChannelConstant(model, node.getInput(2), channels) : Optional.of(new float[channels]);
            if (gamma.isEmpty() || beta.isEmpty()) {
                return false;
            }
            NodeProto.Builder b = node.toBuilder().setInput(1, divided(editor, node.getInput(1), gamma.get(), s));
            String betaName = divided(editor, node.getInputCount() > 2 && !node.getInput(2).isEmpty() ? node.getInput(2) : activation + "_bias",
                    beta.get(), s);
            if (node.getInputCount() > 2) {
                b.setInput(2, betaName);
            } else {
                b.addInput(betaName);
            }
            editor.replace(position, List.of(b.build()));
            return true;
        }
        int constant = ChannelScaling.constantInput(model, node);
        if (constant < 0 || !(ChannelScaling.isDefault(node, "Add") || ChannelScaling.isDefault(node, "Mul"))) {
            return false;
        }
        Optional<float[]> values = ChannelScaling.perChannelConstant(model, node.getInput(constant), channels);
        if (values.isEmpty() || io.modelpress.core.onnx.Tensors.elementCount(model.constant(node.getInput(constant)).get()) != channels) {
            // a scalar would have to become a vector, which breaks the runtime's pattern fusions (GELU's "* 0.5")
            return false;
        }
        if (ChannelScaling.isDefault(node, "Mul")) {
            editor.replace(position, List.of(node.toBuilder().setInput(constant, divided(editor, node.getInput(constant), values.get(), s)).build()));
            return true;
        }
        // Add(y, beta): fold into beta and into y's producer, which must be Mul(z, gamma) read only here
        String y = node.getInput(1 - constant);
        Optional<Integer> mulPosition = index.producerOf(y);
        if (mulPosition.isEmpty() || editor.isReplaced(mulPosition.get()) || !ChannelScaling.onlyReadBy(index, y, List.of(position))) {
            return false;
        }
        NodeProto mul = index.node(mulPosition.get());
        int gammaInput = ChannelScaling.constantInput(model, mul);
        if (!ChannelScaling.isDefault(mul, "Mul") || gammaInput < 0) {
            return false;
        }
        Optional<float[]> gamma = ChannelScaling.perChannelConstant(model, mul.getInput(gammaInput), channels);
        if (gamma.isEmpty() || io.modelpress.core.onnx.Tensors.elementCount(model.constant(mul.getInput(gammaInput)).get()) != channels) {
            return false;
        }
        editor.replace(mulPosition.get(), List.of(mul.toBuilder().setInput(gammaInput, divided(editor, mul.getInput(gammaInput), gamma.get(), s)).build()));
        editor.replace(position, List.of(node.toBuilder().setInput(constant, divided(editor, node.getInput(constant), values.get(), s)).build()));
        return true;
    }

    private static String divided(GraphEditor editor, String original, float[] values, float[] s) {
        float[] out = new float[values.length];
        for (int k = 0; k < values.length; k++) {
            out[k] = values[k] / s[k];
        }
        String name = editor.freshName(original + "_smoothed");
        editor.addInitializer(Tensors.ofFloats(name, new long[] {out.length}, out));
        editor.mayBeUnused(original);
        return name;
    }
}
