package io.modelpress.core.convert;

import io.modelpress.core.eval.Similarity;

/** How close a converted model's output is to the original's, judged in the tests independently of the converter. */
final class Fidelity {
    private Fidelity() {
    }

    /**
     * The cosine of two outputs; 0 when the lengths differ or the actual output has an infinity or NaN where the
     * expected one has a finite value (or another special value), since such an output is lost, not merely off.
     */
    static double cosine(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            return 0;
        }
        float[] a = expected.clone();
        float[] b = actual.clone();
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i]) || !Float.isFinite(b[i])) {
                if (Float.compare(a[i], b[i]) != 0) {
                    return 0;
                }
                a[i] = 0;
                b[i] = 0;
            }
        }
        return Similarity.cosine(a, b);
    }

    /** The largest |actual - expected| relative to the largest |expected|. */
    static double maxRelativeError(float[] expected, float[] actual) {
        double scale = 0;
        double error = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            error = Math.max(error, Math.abs((double) actual[i] - expected[i]));
        }
        return error / scale;
    }
}
