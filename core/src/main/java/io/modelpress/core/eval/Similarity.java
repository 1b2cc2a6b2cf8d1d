package io.modelpress.core.eval;

/** Cosine similarity of output vectors, the fidelity measure every pass is judged by. Sums in double precision. */
public final class Similarity {
    private Similarity() {
    }

    public static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("vectors of different lengths: " + a.length + " and " + b.length);
        }
        return cosine(a, b, 0, a.length);
    }

    /** The cosine of the slices [offset, offset + length) of a and b, e.g. one row of a batch. */
    public static double cosine(float[] a, float[] b, int offset, int length) {
        double dot = 0;
        double normA = 0;
        double normB = 0;
        for (int i = offset; i < offset + length; i++) {
            dot += (double) a[i] * b[i];
            normA += (double) a[i] * a[i];
            normB += (double) b[i] * b[i];
        }
        return cosineOf(dot, normA, normB);
    }

    public static double cosine(double[] a, double[] b) {
        double dot = 0;
        double normA = 0;
        double normB = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            normA += a[i] * a[i];
            normB += b[i] * b[i];
        }
        return cosineOf(dot, normA, normB);
    }

    /** Two zero vectors are identical (1); a zero vector against a non-zero one shares no direction (0). */
    static double cosineOf(double dot, double normA, double normB) {
        if (normA == 0 && normB == 0) {
            return 1;
        }
        if (normA == 0 || normB == 0) {
            return 0;
        }
        return dot / Math.sqrt(normA * normB);
    }
}
