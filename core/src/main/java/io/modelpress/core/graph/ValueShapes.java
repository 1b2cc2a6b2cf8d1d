package io.modelpress.core.graph;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ShapeInference;
import io.modelpress.core.onnx.ValueShape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Around an edit that changes shapes (pruning): the concrete shapes of every value before it, and the proof after it
 * that ONNX Runtime runs the model and its outputs keep their shapes.
 */
public final class ValueShapes {
    /** Sizes tried for symbolic input dims: distinct small primes first (so a Reshape's arithmetic can be told apart). */
    private static final long[][] DIM_CHOICES = {{2, 3, 5, 7, 11, 13, 17, 19}, {32, 48, 64, 80, 96, 112, 128, 144}, {1}};

    private ValueShapes() {
    }

    /** Concrete shapes of every main-graph value, learnt by one ONNX Runtime run; the dims assumed are in the result. */
    public static ShapeInference.Shapes infer(OnnxModel model) {
        Set<String> wanted = new LinkedHashSet<>();
        for (NodeProto node : model.graph().getNodeList()) {
            for (String out : node.getOutputList()) {
                if (!out.isEmpty()) {
                    wanted.add(out);
                }
            }
        }
        List<String> symbols = new ArrayList<>();
        for (ValueShape input : model.inputs()) {
            for (ValueShape.Dim d : input.dims()) {
                if (!d.isFixed() && d.param() != null && !d.param().isEmpty() && !symbols.contains(d.param())) {
                    symbols.add(d.param());
                }
            }
        }
        ModelPressException last = null;
        for (long[] choice : DIM_CHOICES) {
            Map<String, Long> dims = new LinkedHashMap<>();
            for (int i = 0; i < symbols.size(); i++) {
                dims.put(symbols.get(i), choice[Math.min(i, choice.length - 1)]);
            }
            try {
                return ShapeInference.infer(model, wanted, dims);
            } catch (ModelPressException e) {
                last = e;
            }
        }
        throw last;
    }

    /**
     * Null when ONNX Runtime loads and runs the model and its outputs have the shapes {@code expected} gives them;
     * else what went wrong.
     */
    public static String mismatch(OnnxModel model, ShapeInference.Shapes expected) {
        List<String> outputs = model.outputs().stream().map(ValueShape::name).toList();
        ShapeInference.Shapes actual;
        try {
            actual = ShapeInference.infer(model, outputs, expected.assumedDims());
        } catch (ModelPressException e) {
            return e.getMessage();
        }
        for (String output : outputs) {
            long[] want = expected.of(output);
            long[] got = actual.of(output);
            if (want != null && (got == null || !Arrays.equals(want, got))) {
                return "output '" + output + "' has shape " + Arrays.toString(got) + " instead of " + Arrays.toString(want);
            }
        }
        return null;
    }
}
