package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Convolution, dense products, pooling and dropout. */
final class NeuralOps {
    private NeuralOps() {
    }

    static void register(OperatorRegistry r) {
        r.register("Conv", NeuralOps::conv);
        r.register("Gemm", NeuralOps::gemm);
        r.register("MatMul", node -> ElementwiseOps.one(node.array(0).matMul(node.array(1))));
        r.register("MaxPool", NeuralOps::maxPool);
        r.register("AveragePool", NeuralOps::averagePool);
        ReduceOps.registerGlobalPools(r);
        r.register("Dropout", NeuralOps::dropout);
    }

    /** Window geometry shared by Conv and the pools: kernel, strides, dilations and [begin..., end...] pads. */
    private record Window(long[] kernel, long[] strides, long[] dilations, long[] pads) {
        static Window of(NodeContext node, long[] inputShape, long[] kernel) {
            int n = kernel.length;
            if (inputShape.length != n + 2) {
                throw node.invalid("input of rank " + inputShape.length + " does not fit a kernel of " + n + " spatial dimensions");
            }
            long[] strides = orOnes(node.ints("strides"), n);
            long[] dilations = orOnes(node.ints("dilations"), n);
            String autoPad = node.attr("auto_pad", "NOTSET");
            long[] pads = new long[2 * n];
            switch (autoPad) {
                case "NOTSET" -> {
                    long[] given = node.ints("pads");
                    if (given != null) {
                        if (given.length != 2 * n) {
                            throw node.invalid("pads has " + given.length + " values, expected " + 2 * n);
                        }
                        pads = given.clone();
                    }
                }
                case "VALID" -> {
                }
                case "SAME_UPPER", "SAME_LOWER" -> {
                    for (int i = 0; i < n; i++) {
                        long in = inputShape[i + 2];
                        long out = (in + strides[i] - 1) / strides[i];
                        long span = (kernel[i] - 1) * dilations[i] + 1;
                        long total = Math.max(0, (out - 1) * strides[i] + span - in);
                        long small = total / 2;
                        pads[i] = autoPad.equals("SAME_UPPER") ? small : total - small;
                        pads[i + n] = total - pads[i];
                    }
                }
                default -> throw node.invalid("auto_pad '" + autoPad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
            }
            return new Window(kernel, strides, dilations, pads);
        }

        boolean padded() {
            return Arrays.stream(pads).anyMatch(p -> p != 0);
        }

        /** Begin and end pads equal: the engine's own (symmetric) padding can do them. */
        boolean symmetric() {
            int n = kernel.length;
            for (int i = 0; i < n; i++) {
                if (pads[i] != pads[i + n]) {
                    return false;
                }
            }
            return true;
        }

        Shape beginPads() {
            return new Shape(Arrays.copyOf(pads, kernel.length));
        }

        /** Pads the spatial dimensions explicitly (in the engine's order: last dimension first). */
        NDArray pad(NDArray x, double value) {
            int n = kernel.length;
            long[] order = new long[2 * n];
            for (int i = 0; i < n; i++) {
                order[2 * i] = pads[n - 1 - i];
                order[2 * i + 1] = pads[2 * n - 1 - i];
            }
            return x.pad(new Shape(order), value);
        }
    }

    private static long[] orOnes(long[] values, int n) {
        if (values != null) {
            return values;
        }
        long[] ones = new long[n];
        Arrays.fill(ones, 1);
        return ones;
    }

    private static List<Value> conv(NodeContext node) {
        NDArray x = node.array(0);
        NDArray w = node.array(1);
        NDArray bias = node.has(2) ? node.array(2) : null;
        long[] weightShape = w.getShape().getShape();
        long[] kernel = node.ints("kernel_shape");
        if (kernel == null) {
            kernel = Arrays.copyOfRange(weightShape, 2, weightShape.length);
        }
        Window window = Window.of(node, x.getShape().getShape(), kernel);
        Shape padding = window.beginPads();
        if (!window.symmetric()) {
            x = window.pad(x, 0);
            padding = new Shape(new long[kernel.length]);
        }
        NDArray y = x.getNDArrayInternal().convolution(x, w, bias, new Shape(window.strides()), padding,
                new Shape(window.dilations()), (int) node.attr("group", 1L)).singletonOrThrow();
        return ElementwiseOps.one(y);
    }

    private static List<Value> gemm(NodeContext node) {
        NDArray a = node.array(0);
        NDArray b = node.array(1);
        if (node.attr("transA", 0L) != 0) {
            a = a.transpose();
        }
        if (node.attr("transB", 0L) != 0) {
            b = b.transpose();
        }
        NDArray y = a.matMul(b);
        float alpha = node.attr("alpha", 1f);
        if (alpha != 1f) {
            y = y.mul(alpha);
        }
        if (node.has(2)) {
            float beta = node.attr("beta", 1f);
            NDArray c = node.array(2);
            y = y.add(beta == 1f ? c : c.mul(beta));
        }
        return ElementwiseOps.one(y);
    }

    private static List<Value> maxPool(NodeContext node) {
        if (node.wantsOutput(1)) {
            throw node.unsupported("MaxPool's Indices output");
        }
        NDArray x = node.array(0);
        long[] kernel = requireKernel(node);
        Window window = Window.of(node, x.getShape().getShape(), kernel);
        if (Arrays.stream(window.dilations()).anyMatch(d -> d != 1)) {
            throw node.unsupported("MaxPool with dilations " + Arrays.toString(window.dilations()));
        }
        boolean ceil = node.attr("ceil_mode", 0L) != 0;
        boolean integer = !x.getDataType().isFloating();
        NDArray input = integer ? x.toType(ai.djl.ndarray.types.DataType.FLOAT32, false) : x;
        if (window.padded()) {
            input = window.pad(input, Double.NEGATIVE_INFINITY);
        }
        NDArray y = input.getNDArrayInternal().maxPool(new Shape(kernel), new Shape(window.strides()),
                new Shape(new long[kernel.length]), ceil);
        return ElementwiseOps.one(integer ? y.toType(x.getDataType(), false) : y);
    }

    /**
     * Without count_include_pad (ONNX's default) a window's mean covers only its input elements. The engine's
     * average pooling always counts padding, so padded windows divide by the pooled mean of an all-ones input padded
     * the same way: the engine's divisor cancels, and what remains is the number of input elements.
     */
    private static List<Value> averagePool(NodeContext node) {
        NDArray x = node.array(0);
        long[] kernel = requireKernel(node);
        Window window = Window.of(node, x.getShape().getShape(), kernel);
        if (Arrays.stream(window.dilations()).anyMatch(d -> d != 1)) {
            throw node.unsupported("AveragePool with dilations " + Arrays.toString(window.dilations()));
        }
        boolean ceil = node.attr("ceil_mode", 0L) != 0;
        Shape k = new Shape(kernel);
        Shape s = new Shape(window.strides());
        Shape none = new Shape(new long[kernel.length]);
        if (!window.padded()) {
            return ElementwiseOps.one(x.getNDArrayInternal().avgPool(k, s, none, ceil, true));
        }
        NDArray sums = window.pad(x, 0).getNDArrayInternal().avgPool(k, s, none, ceil, true);
        if (node.attr("count_include_pad", 0L) != 0) {
            return ElementwiseOps.one(sums);
        }
        NDArray ones = x.getManager().ones(x.getShape(), x.getDataType());
        NDArray counts = window.pad(ones, 0).getNDArrayInternal().avgPool(k, s, none, ceil, true);
        return ElementwiseOps.one(sums.div(counts));
    }

    private static long[] requireKernel(NodeContext node) {
        long[] kernel = node.ints("kernel_shape");
        if (kernel == null) {
            throw node.invalid("kernel_shape is required");
        }
        return kernel;
    }

    /**
     * Active when the model trains (or the node's training_mode input says so): elements are dropped with the
     * given ratio and the rest scaled by 1 / (1 - ratio); otherwise the identity. The random numbers come from the
     * engine's generator, which {@link OnnxTrainer} seeds.
     */
    private static List<Value> dropout(NodeContext node) {
        NDArray x = node.array(0);
        double ratio = node.opset() < 12 ? node.attr("ratio", 0.5f) : node.has(1) ? node.scalar(1) : 0.5;
        boolean trainingMode = node.opset() >= 12 && node.has(2) && node.scalar(2) != 0;
        if (ratio < 0 || ratio >= 1) {
            throw node.invalid("ratio must be in [0, 1), got " + ratio);
        }
        List<Value> outputs = new ArrayList<>();
        if (!(node.training() || trainingMode) || ratio == 0) {
            outputs.add(Value.of(x));
            if (node.wantsOutput(1)) {
                outputs.add(Value.of(x.getManager().ones(x.getShape(), ai.djl.ndarray.types.DataType.BOOLEAN)));
            }
            return outputs;
        }
        NDArray keep = x.getManager().randomUniform(0f, 1f, x.getShape()).gte(ratio);
        outputs.add(Value.of(x.mul(keep.toType(x.getDataType(), false)).div(1 - ratio)));
        if (node.wantsOutput(1)) {
            outputs.add(Value.of(keep));
        }
        return outputs;
    }
}
