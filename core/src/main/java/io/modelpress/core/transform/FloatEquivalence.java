package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks that a float rewrite kept the model's function: both models run on a few calibration samples and every
 * float output must agree to float rounding. The rewrites are exact by construction; this guards against graph shapes
 * their analysis did not foresee.
 */
public final class FloatEquivalence {
    /** Largest accepted |difference| relative to the output's largest |value|. */
    public static final double TOLERANCE = 1e-3;
    private static final int SAMPLES = 8;

    private FloatEquivalence() {
    }

    /** Largest relative deviation over the float outputs. */
    public static double deviation(OnnxModel original, OnnxModel rewritten, CalibrationData data) {
        List<String> outputs = new ArrayList<>();
        for (ValueInfoProto output : original.graph().getOutputList()) {
            if (output.getType().getTensorType().getElemType() == DataType.FLOAT.onnxId()) {
                outputs.add(output.getName());
            }
        }
        if (outputs.isEmpty()) {
            return 0;
        }
        Map<String, List<float[]>> expected = run(original, outputs, data);
        Map<String, List<float[]>> actual = run(rewritten, outputs, data);
        double worst = 0;
        for (String output : outputs) {
            List<float[]> a = expected.get(output);
            List<float[]> b = actual.get(output);
            for (int batch = 0; batch < a.size(); batch++) {
                worst = Math.max(worst, relativeDifference(a.get(batch), b.get(batch)));
            }
        }
        return worst;
    }

    /** Largest |expected - actual| relative to expected's largest |value|. */
    public static double relativeDifference(float[] expected, float[] actual) {
        float scale = 0;
        float diff = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        return diff / Math.max(scale, 1e-12f);
    }

    private static Map<String, List<float[]>> run(OnnxModel model, List<String> outputs, CalibrationData data) {
        Map<String, List<float[]>> values = new HashMap<>();
        ActivationObserver.observe(model, outputs, data, SAMPLES, 2, (value, buffer, shape) -> {
            float[] copy = new float[buffer.remaining()];
            FloatBuffer view = buffer.duplicate();
            view.get(copy);
            values.computeIfAbsent(value, k -> new ArrayList<>()).add(copy);
        });
        return values;
    }
}
