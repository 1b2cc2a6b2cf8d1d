package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * SmoothQuant (Xiao et al., 2023), an exact float rewrite that prepares activations for 8-bit quantization. One
 * per-tensor scale must cover all channels of an activation X, so a few outlier channels (LayerNorm outputs of
 * transformers reach 10x the typical channel) waste most of the 8 bits. Dividing channel k of X by s_k and multiplying
 * row k of every consuming weight W by s_k leaves X W unchanged and moves the difficulty into the weights, whose
 * per-channel scales absorb it: s_k = max|X_k|^alpha / max|W_k|^(1-alpha). Products sharing X (query, key and value
 * projections) share one s, taken over all their weights.
 *
 * <p>Where the division goes depends on how X is quantized ({@link Smoothing}): folded for free into the per-channel
 * constants X ends in (LayerNormalization's scale and bias, or Mul by gamma / Add beta) when nothing else reads them,
 * else one Mul by 1/s.
 */
public final class SmoothQuant implements Pass<SmoothQuant.Options> {
    public static final String NAME = "smoothquant";
    /** Outlier strength (largest channel max / median channel max) that justifies an extra Mul (run-time quantization). */
    static final double MIN_RATIO_FOR_MUL = 8;
    /** Below this strength smoothing changes little, even where it is free (run-time quantization). */
    static final double MIN_RATIO = 3;

    /** How an activation is smoothed, following how the quantizer will treat it. */
    public enum Smoothing {
        /**
         * For activations quantized at run time (dynamic mode), where every extra node costs a pass over the tensor:
         * fold 1/s into X's producer where free, else one Mul before X's first reader, but only for strong outliers
         * (strength of at least {@link #MIN_RATIO_FOR_MUL}; below {@link #MIN_RATIO} nothing is done). The scales are
         * normalized so that the median channel keeps its values (s at least 1e-5).
         */
        FOLD_OR_MUL("_smooth_Mul"),
        /**
         * For activations followed by a QuantizeLinear anyway (static mode): one Mul right after X's producer for every
         * activation given, s clamped to [1e-4, 1e4].
         */
        MUL_AFTER_PRODUCER("_SmoothQuant");

        private final String mulSuffix;

        Smoothing(String mulSuffix) {
            this.mulSuffix = mulSuffix;
        }
    }

    /** @param alpha migration strength: 0 leaves X as it is, 1 moves all of its range into the weights */
    public record Options(double alpha, Smoothing smoothing) {
    }

    private final Options options;
    private final Function<String, float[]> channelAbsMax;
    private final ProductGroups groups;
    private final Set<String> smoothedValues = new LinkedHashSet<>();

    /**
     * @param channelAbsMax max |x| per channel (last axis) of an activation on calibration data, or null when unknown
     * @param groups        the activations to smooth and the products reading them (weights second, 2-D)
     */
    public SmoothQuant(Options options, Function<String, float[]> channelAbsMax, ProductGroups groups) {
        this.options = options;
        this.channelAbsMax = channelAbsMax;
        this.groups = groups;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Options options() {
        return options;
    }

    /** The values the products now read in place of smoothed activations divided by a Mul (the Mul outputs). */
    public Set<String> smoothedValues() {
        return Collections.unmodifiableSet(smoothedValues);
    }

    /** Changes: the activations smoothed. */
    @Override
    public PassResult apply(OnnxModel model) {
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        boolean fold = options.smoothing() == Smoothing.FOLD_OR_MUL;
        int folded = 0;
        smoothedValues.clear();
        for (Map.Entry<String, List<Integer>> group : groups.of(model).entrySet()) {
            String activation = group.getKey();
            List<Integer> readers = group.getValue();
            float[] xMax = channelAbsMax.apply(activation);
            if (xMax == null) {
                continue;
            }
            double strength = fold && xMax.length >= 2 ? ChannelScaling.outlierStrength(xMax) : 0;
            if (fold && (xMax.length < 2 || strength < MIN_RATIO)) {
                continue;
            }
            List<ChannelScaling.Matrix> weights = new ArrayList<>();
            for (int position : readers) {
                weights.add(ChannelScaling.weight(model, index.node(position)));
            }
            if (weights.stream().anyMatch(w -> w.rows() != xMax.length)) {
                continue;
            }
            float[] s = scales(xMax, weights, options.alpha(), options.smoothing());
            boolean foldedHere = fold && ChannelScaling.onlyReadBy(index, activation, readers) && foldIntoProducer(editor, activation, s);
            if (fold && !foldedHere && strength < MIN_RATIO_FOR_MUL) {
                continue;
            }
            String smoothed = activation;
            if (foldedHere) {
                folded++;
            } else {
                smoothed = divideWithMul(editor, activation, readers, s);
                smoothedValues.add(smoothed);
            }
            for (int i = 0; i < readers.size(); i++) {
                int position = readers.get(i);
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
        return PassResult.changed(NAME, folded + smoothedValues.size(), note(folded, smoothedValues.size()));
    }

    private String note(int folded, int multiplied) {
        double alpha = options.alpha();
        if (options.smoothing() == Smoothing.FOLD_OR_MUL) {
            return String.format(Locale.ROOT, "alpha %.2f; %d activations folded into their producer, %d with a Mul", alpha, folded, multiplied);
        }
        return multiplied == 0
                ? "alpha " + alpha + ": nothing to smooth (no MatMul/Gemm reads an activation computed in float; inputs arriving"
                        + " 8-bit from a quantized producer are left as they are)"
                : "alpha " + alpha + " on " + multiplied + " activation(s) read by MatMul/Gemm";
    }

    /** Adds X * (1/s) where {@link Smoothing} puts it; returns the Mul's output. */
    private String divideWithMul(GraphEditor editor, String activation, List<Integer> readers, float[] s) {
        String smoothed = editor.freshName(activation + "_smoothed");
        float[] inverse = new float[s.length];
        for (int k = 0; k < s.length; k++) {
            inverse[k] = 1f / s[k];
        }
        String inverseName = editor.freshName(activation + "_smooth_scale");
        editor.addInitializer(Tensors.ofFloats(inverseName, new long[] {s.length}, inverse));
        NodeProto mul = Nodes.node("Mul", editor.freshName(activation + options.smoothing().mulSuffix),
                List.of(activation, inverseName), List.of(smoothed));
        if (options.smoothing() == Smoothing.FOLD_OR_MUL) {
            editor.insertBefore(readers.stream().mapToInt(Integer::intValue).min().orElseThrow(), List.of(mul));
        } else {
            editor.index().producerOf(activation).ifPresentOrElse(p -> editor.insertAfter(p, List.of(mul)),
                    () -> editor.insertBefore(0, List.of(mul)));
        }
        return smoothed;
    }

    static float[] scales(float[] xMax, List<ChannelScaling.Matrix> weights, double alpha, Smoothing smoothing) {
        float[] s = new float[xMax.length];
        for (int k = 0; k < xMax.length; k++) {
            float wMax = 0;
            for (ChannelScaling.Matrix w : weights) {
                for (int n = 0; n < w.cols(); n++) {
                    wMax = Math.max(wMax, Math.abs(w.get(k, n)));
                }
            }
            double value = xMax[k] > 0 && wMax > 0 ? Math.pow(xMax[k], alpha) / Math.pow(wMax, 1 - alpha) : 1;
            s[k] = smoothing == Smoothing.FOLD_OR_MUL ? (float) Math.max(value, 1e-5) : (float) Math.max(1e-4, Math.min(1e4, value));
        }
        if (smoothing == Smoothing.FOLD_OR_MUL) {
            // a common factor changes nothing but the numbers' magnitude; keep the typical channel at 1
            float[] sorted = s.clone();
            Arrays.sort(sorted);
            float median = sorted[sorted.length / 2];
            for (int k = 0; k < s.length; k++) {
                s[k] /= median;
            }
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
        if (values.isEmpty() || Tensors.elementCount(model.constant(node.getInput(constant)).get()) != channels) {
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
        if (gamma.isEmpty() || Tensors.elementCount(model.constant(mul.getInput(gammaInput)).get()) != channels) {
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
