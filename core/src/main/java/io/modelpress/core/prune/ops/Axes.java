package io.modelpress.core.prune.ops;

/** Small arithmetic on axes and dims shared by the handlers. */
final class Axes {
    private Axes() {
    }

    /** A possibly negative axis as a position in 0..rank-1, or -1 when out of range. */
    static int normalize(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        return a < 0 || a >= rank ? -1 : (int) a;
    }

    /** Product of dims[from..to). */
    static long product(long[] dims, int from, int to) {
        long p = 1;
        for (int i = Math.max(0, from); i < Math.min(to, dims.length); i++) {
            p *= dims[i];
        }
        return p;
    }

    static int[] repeatEach(int[] ids, int times) {
        int[] out = new int[ids.length * times];
        for (int j = 0; j < out.length; j++) {
            out[j] = ids[j / times];
        }
        return out;
    }
}
