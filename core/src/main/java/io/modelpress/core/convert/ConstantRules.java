package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.convert.ConversionReport.Rule;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Float16;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.transform.ValueTypes;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The static float16 rules: nodes that stay float32 because of the constants they read or the values they compute,
 * decided from the graph alone.
 *
 * <ul>
 *   <li>range: a constant with a value beyond float16's largest finite value (65504), such as a -1e9 additive mask
 *       or a 1e6 divisor, would be clamped; it stays float32 and so does every node that reads it;</li>
 *   <li>rounding: a constant that float16 changes by more than 0.1 % (relative L2), which only happens to values
 *       below float16's normal range (a 1e-10 log floor would become 6e-8), stays float32 with its readers.
 *       Tiny addends of Add/Sub are the exception: such an epsilon only guards against zero, and stored as float16's
 *       smallest step (never as zero, see {@link #stored}) it still does;</li>
 *   <li>powers: Pow with a constant exponent above 1 or below 0 stays float32, since x^2 leaves float16's range
 *       from |x| > 256 on (the variance of a decomposed LayerNorm, say). It also keeps ONNX Runtime 1.26's CPU
 *       optimiser from failing on float16 LayerNorm patterns whose shared exponent constant it casts;</li>
 *   <li>thresholds: a comparison (Greater, Less, ...) with a constant that float16 does not hold exactly stays float32,
 *       so that no value between the threshold and its rounding changes side;</li>
 *   <li>Resize: the scales and region of interest are float32 in the schema; when they are computed (from shapes,
 *       say), the nodes computing them stay float32 too, since a rounded scale changes the output size.</li>
 * </ul>
 */
final class ConstantRules {
    /** Largest finite float16. */
    static final float MAX_FLOAT16 = 65504f;
    /** Relative L2 change of a constant by float16 storage beyond which it counts as changed. */
    static final double MATERIAL_CHANGE = 1e-3;
    /** Smallest normal float16: below it float16 keeps fewer significant bits, down to none. */
    static final float SMALLEST_NORMAL_FLOAT16 = 0x1p-14f;
    /** Smallest positive float16 (a subnormal). */
    static final float SMALLEST_FLOAT16 = 0x1p-24f;

    private static final Set<String> COMPARISONS = Set.of("Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal");
    private static final Set<String> ADDITIVE = Set.of("Add", "Sub");

    private ConstantRules() {
    }

    /**
     * How a float32 constant fares in float16.
     *
     * @param relativeChange the relative L2 change of the whole tensor
     * @param example        the value float16 changes most, relatively (the first one when none changes)
     * @param exampleStored  what float16 stores for it
     */
    record Fit(float maxAbs, float min, double relativeChange, boolean tinyOnly, float example, float exampleStored) {
        boolean exact() {
            return relativeChange == 0;
        }
    }

    /** A float32 value rounded to the nearest float16, saturated at 65504 (infinities and NaN stay). */
    static short rounded(float value) {
        return Float16.fromFloat(Float.isFinite(value) && Math.abs(value) > MAX_FLOAT16 ? Math.copySign(MAX_FLOAT16, value) : value);
    }

    /** The float16 a converted constant stores: {@link #rounded}, but a non-zero value never becomes zero. */
    static short stored(float value) {
        short half = rounded(value);
        return (half & 0x7fff) == 0 && value != 0 ? Float16.fromFloat(Math.copySign(SMALLEST_FLOAT16, value)) : half;
    }

    static Fit fit(float[] values) {
        float maxAbs = 0;
        float min = Float.POSITIVE_INFINITY;
        double sumSquares = 0;
        double sumChanges = 0;
        boolean tinyOnly = true;
        float example = values.length == 0 ? 0 : values[0];
        double exampleChange = 0;
        for (float v : values) {
            if (!Float.isFinite(v)) {
                continue; // infinities and NaN are float16 values too
            }
            float s = Float16.toFloat(stored(v));
            maxAbs = Math.max(maxAbs, Math.abs(v));
            min = Math.min(min, v);
            sumSquares += (double) v * v;
            sumChanges += ((double) s - v) * ((double) s - v);
            tinyOnly &= v == 0 || Math.abs(v) < SMALLEST_NORMAL_FLOAT16;
            double change = v == 0 ? 0 : Math.abs(((double) s - v) / v);
            if (change > exampleChange) {
                example = v;
                exampleChange = change;
            }
        }
        double change = sumChanges == 0 ? 0 : Math.sqrt(sumChanges / sumSquares);
        return new Fit(maxAbs, min, change, tinyOnly, example, Float16.toFloat(stored(example)));
    }

    /**
     * The nodes of the main graph these rules keep in float32, by position.
     *
     * @param constants the graph's stored values (initializers and Constant node outputs) by name
     */
    static Map<Integer, Float16Converter.Keep> apply(OnnxModel model, List<NodeProto> nodes, Map<String, TensorProto> constants,
                                                   Map<String, ValueTypes.TensorType> types, Predicate<String> isFloat32) {
        long opset = model.opset("");
        Map<String, Fit> fits = new HashMap<>();
        Map<Integer, Float16Converter.Keep> keep = new LinkedHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            if (Weights.isConstantNode(node)) {
                continue;
            }
            Set<Integer> float32Anyway = Float16Policy.float32Inputs(node.getOpType(), opset);
            for (int j = 0; j < node.getInputCount() && !keep.containsKey(i); j++) {
                String input = node.getInput(j);
                if (float32Anyway.contains(j) || !constants.containsKey(input) || !isFloat32.test(input)) {
                    continue;
                }
                Fit fit = fits.computeIfAbsent(input, n -> fit(model.floats(constants.get(n))));
                Float16Converter.Keep reason = ruleFor(node, j, input, fit);
                if (reason != null) {
                    keep.put(i, reason);
                }
            }
            if (node.getOpType().equals("ConstantOfShape") && !keep.containsKey(i)) {
                for (AttributeProto a : node.getAttributeList()) {
                    if (a.getName().equals("value") && DataType.of(a.getT()) == DataType.FLOAT) {
                        Fit fit = fit(model.floats(a.getT()));
                        if (fit.maxAbs() > MAX_FLOAT16) {
                            keep.put(i, new Float16Converter.Keep(Rule.RANGE, "fills with " + number(fit.example())
                                    + ", beyond float16's range (65504)"));
                        }
                    }
                }
            }
        }
        keepResizeInputs(model, nodes, constants, types, isFloat32, keep);
        return keep;
    }

    private static Float16Converter.Keep ruleFor(NodeProto node, int position, String input, Fit fit) {
        if (fit.maxAbs() > MAX_FLOAT16) {
            return new Float16Converter.Keep(Rule.RANGE, "reads '" + input + "', a constant beyond float16's range (|value| up to "
                    + number(fit.maxAbs()) + "; float16 ends at 65504)");
        }
        if (node.getOpType().equals("Pow") && position == 1 && (fit.maxAbs() > 1 || fit.min() < 0)) {
            return new Float16Converter.Keep(Rule.RANGE, "raises to the power " + number(fit.example()) + ", which leaves float16's "
                    + "range far sooner than its input does (x^2 from |x| > 256)");
        }
        if (COMPARISONS.contains(node.getOpType()) && !fit.exact()) {
            return new Float16Converter.Keep(Rule.THRESHOLD, "compares with '" + input + "' (" + number(fit.example())
                    + "), which float16 would round to " + number(fit.exampleStored()));
        }
        if (fit.relativeChange() > MATERIAL_CHANGE && !(ADDITIVE.contains(node.getOpType()) && fit.tinyOnly())) {
            return new Float16Converter.Keep(Rule.ROUNDING, "reads '" + input + "', which float16 would change by "
                    + String.format(Locale.ROOT, "%.3g%%", 100 * fit.relativeChange()) + " (e.g. " + number(fit.example())
                    + " -> " + number(fit.exampleStored()) + ")");
        }
        return null;
    }

    /**
     * Keeps the nodes computing the float32-only inputs of Resize/Upsample (scales, region of interest) in float32:
     * walks back from each such input through its producers, over values of rank 0 or 1 (shape-like arithmetic), so a
     * scale computed from data stops the walk instead of pulling the network into float32.
     */
    private static void keepResizeInputs(OnnxModel model, List<NodeProto> nodes, Map<String, TensorProto> constants,
                                         Map<String, ValueTypes.TensorType> types, Predicate<String> isFloat32,
                                         Map<Integer, Float16Converter.Keep> keep) {
        GraphIndex index = null;
        long opset = model.opset("");
        for (NodeProto node : nodes) {
            Set<Integer> float32Inputs = Float16Policy.float32Inputs(node.getOpType(), opset);
            for (int j : float32Inputs) {
                if (j >= node.getInputCount()) {
                    continue;
                }
                String start = node.getInput(j);
                if (start.isEmpty() || constants.containsKey(start) || !isFloat32.test(start)) {
                    continue;
                }
                if (index == null) {
                    index = new GraphIndex(model.graph());
                }
                String role = node.getOpType() + " '" + node.getName() + "'";
                Deque<String> pending = new ArrayDeque<>(List.of(start));
                while (!pending.isEmpty()) {
                    String value = pending.pop();
                    Integer producer = index.producerOf(value).orElse(null);
                    if (producer == null || Weights.isConstantNode(nodes.get(producer)) || keep.containsKey(producer)) {
                        continue;
                    }
                    keep.put(producer, new Float16Converter.Keep(Rule.RESIZE, "computes the float32 scales or region of "
                            + role + ", which float16 would round"));
                    for (String in : nodes.get(producer).getInputList()) {
                        ValueTypes.TensorType t = types.get(in);
                        if (!in.isEmpty() && !constants.containsKey(in) && isFloat32.test(in) && t != null && t.rank() >= 0 && t.rank() <= 1) {
                            pending.push(in);
                        }
                    }
                }
            }
        }
    }

    /** A number in at most 6 significant digits, without trailing zeros: 0.1, 65504, 1e-10, 1.04858e+06. */
    static String number(double v) {
        String[] parts = String.format(Locale.ROOT, "%.6g", v).split("e");
        String mantissa = parts[0].contains(".") ? parts[0].replaceAll("\\.?0+$", "") : parts[0];
        return parts.length == 1 ? mantissa : mantissa + "e" + parts[1];
    }
}
