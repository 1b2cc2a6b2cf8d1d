package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;

import java.util.List;

/** ReduceMean, ReduceSum, ReduceMax, ReduceMin. */
final class ReduceOps {
    private ReduceOps() {
    }

    interface Reduction {
        NDArray apply(NDArray x, int[] axes, boolean keepDims);
    }

    static void register(OperatorRegistry r) {
        r.register("ReduceMean", reduce(NDArray::mean, 18));
        r.register("ReduceSum", reduce(NDArray::sum, 13));
        r.register("ReduceMax", reduce(NDArray::max, 18));
        r.register("ReduceMin", reduce(NDArray::min, 18));
    }

    static void registerGlobalPools(OperatorRegistry r) {
        r.register("GlobalAveragePool", node -> ElementwiseOps.one(over(node.array(0), spatialAxes(node.array(0)), true, NDArray::mean)));
        r.register("GlobalMaxPool", node -> ElementwiseOps.one(over(node.array(0), spatialAxes(node.array(0)), true, NDArray::max)));
    }

    private static int[] spatialAxes(NDArray x) {
        return java.util.stream.IntStream.range(2, x.getShape().dimension()).toArray();
    }

    /**
     * Axes come from an attribute before {@code axesInputSince}, from an optional input since. No axes means all
     * of them, unless noop_with_empty_axes asks for the identity.
     */
    private static OperatorHandler reduce(Reduction reduction, long axesInputSince) {
        return node -> {
            NDArray x = node.array(0);
            int rank = x.getShape().dimension();
            long[] axes = node.opset() < axesInputSince ? node.ints("axes") : node.has(1) ? node.longs(1) : null;
            if (axes == null || axes.length == 0) {
                if (node.attr("noop_with_empty_axes", 0L) != 0) {
                    return List.of(node.value(0));
                }
                axes = new long[rank];
                for (int i = 0; i < rank; i++) {
                    axes[i] = i;
                }
            }
            int[] normalised = new int[axes.length];
            for (int i = 0; i < axes.length; i++) {
                normalised[i] = node.axis(axes[i], rank);
            }
            boolean keepDims = node.attr("keepdims", 1L) != 0;
            if (rank == 0) {
                return List.of(node.value(0));
            }
            return ElementwiseOps.one(over(x, normalised, keepDims, reduction));
        };
    }

    static NDArray mean(NDArray x, int[] axes, boolean keepDims) {
        return over(x, axes, keepDims, NDArray::mean);
    }

    /** Reduces over several axes one at a time (DJL's PyTorch engine reduces one axis per call). */
    private static NDArray over(NDArray x, int[] axes, boolean keepDims, Reduction reduction) {
        int[] sorted = java.util.Arrays.stream(axes).distinct().sorted().toArray();
        if (sorted.length == 1) {
            return reduction.apply(x, sorted, keepDims);
        }
        NDArray result = x;
        for (int axis : sorted) {
            result = reduction.apply(result, new int[] {axis}, true);
        }
        if (keepDims) {
            return result;
        }
        long[] dims = x.getShape().getShape();
        long[] kept = java.util.stream.IntStream.range(0, dims.length)
                .filter(i -> java.util.Arrays.binarySearch(sorted, i) < 0).mapToLong(i -> dims[i]).toArray();
        return result.reshape(kept);
    }
}
