package io.modelpress.train.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

/**
 * 2-D max or average pooling (NCHW) that, unlike DJL's {@code Pool.maxPool2dBlock}, keeps its configuration
 * readable. DJL builds its pooling blocks as lambdas whose kernel, stride and padding cannot be recovered, so a model
 * meant for ONNX export uses this block instead; it computes exactly what {@link Pool#maxPool2d} and
 * {@link Pool#avgPool2d} compute.
 *
 * <p>Average pooling always counts the zero padding in the divisor: DJL 0.36's PyTorch engine ignores
 * {@code countIncludePad=false}, so this block does not offer it.
 */
public final class Pool2d extends AbstractBlock {
    private static final byte VERSION = 1;

    public enum Kind { MAX, AVG }

    private final Kind kind;
    private final Shape kernel;
    private final Shape stride;
    private final Shape padding;
    private final boolean ceilMode;

    private Pool2d(Kind kind, Shape kernel, Shape stride, Shape padding, boolean ceilMode) {
        super(VERSION);
        this.kind = kind;
        this.kernel = check("kernel", kernel, 1);
        this.stride = check("stride", stride, 1);
        this.padding = check("padding", padding, 0);
        for (int i = 0; i < 2; i++) {
            if (padding.get(i) * 2 > kernel.get(i)) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "Pool2d", "padding " + padding
                        + " must be at most half the kernel " + kernel);
            }
        }
        this.ceilMode = ceilMode;
    }

    private static Shape check(String what, Shape shape, long min) {
        if (shape.dimension() != 2 || shape.get(0) < min || shape.get(1) < min) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "Pool2d", what + " must be two values >= " + min
                    + ", got " + shape);
        }
        return shape;
    }

    /** Max pooling with stride equal to the kernel and no padding. */
    public static Pool2d max(Shape kernel) {
        return max(kernel, kernel, new Shape(0, 0), false);
    }

    public static Pool2d max(Shape kernel, Shape stride, Shape padding, boolean ceilMode) {
        return new Pool2d(Kind.MAX, kernel, stride, padding, ceilMode);
    }

    /** Average pooling with stride equal to the kernel and no padding. */
    public static Pool2d avg(Shape kernel) {
        return avg(kernel, kernel, new Shape(0, 0), false);
    }

    public static Pool2d avg(Shape kernel, Shape stride, Shape padding, boolean ceilMode) {
        return new Pool2d(Kind.AVG, kernel, stride, padding, ceilMode);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray input = inputs.singletonOrThrow();
        return new NDList(kind == Kind.MAX
                ? Pool.maxPool2d(input, kernel, stride, padding, ceilMode)
                : Pool.avgPool2d(input, kernel, stride, padding, ceilMode, true));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputs) {
        Shape in = inputs[0];
        if (in.dimension() != 4) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "Pool2d", "expects NCHW input, got shape " + in);
        }
        return new Shape[] {new Shape(in.get(0), in.get(1), outputSize(in.get(2), 0), outputSize(in.get(3), 1))};
    }

    /** PyTorch's rule: in ceil mode, a last window that would start inside the right padding is dropped. */
    private long outputSize(long in, int axis) {
        long k = kernel.get(axis);
        long s = stride.get(axis);
        long p = padding.get(axis);
        long span = in + 2 * p - k;
        long out = (ceilMode ? Math.floorDiv(span + s - 1, s) : Math.floorDiv(span, s)) + 1;
        if (ceilMode && (out - 1) * s >= in + p) {
            out--;
        }
        return out;
    }

    public Kind kind() {
        return kind;
    }

    public Shape kernel() {
        return kernel;
    }

    public Shape stride() {
        return stride;
    }

    public Shape padding() {
        return padding;
    }

    public boolean ceilMode() {
        return ceilMode;
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase() + "Pool2d(kernel=" + kernel + ", stride=" + stride + ", padding=" + padding
                + (ceilMode ? ", ceil" : "") + ")";
    }
}
