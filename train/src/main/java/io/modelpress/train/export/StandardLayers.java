package io.modelpress.train.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.pooling.Pool;
import ai.djl.util.Pair;
import ai.onnx.proto.OnnxMl.AttributeProto;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.train.nn.Pool2d;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;

import static io.modelpress.train.export.ExportContext.integer;
import static io.modelpress.train.export.ExportContext.ints;
import static io.modelpress.train.export.ExportContext.real;

/**
 * Handlers for the layers of common CNNs and MLPs: {@link SequentialBlock}, {@link ParallelBlock} (residual sums,
 * gates, channel concatenation: see {@link ParallelBlocks}), {@link Conv2d} (grouped and depthwise too),
 * {@link BatchNorm}, {@link Linear}, {@link Dropout}, {@link Pool2d}, and DJL's named lambda blocks ReLU, ReLU6,
 * sigmoid, Tanh, identity, batchFlatten, globalAvgPool2d and globalMaxPool2d.
 */
public final class StandardLayers {
    private StandardLayers() {
    }

    public static void registerAll(OnnxExporter exporter) {
        exporter.register(SequentialBlock.class, StandardLayers::sequential);
        exporter.register(ParallelBlock.class, ParallelBlocks::export);
        exporter.register(Conv2d.class, StandardLayers::convolution);
        exporter.register(BatchNorm.class, StandardLayers::batchNorm);
        exporter.register(Linear.class, StandardLayers::linear);
        exporter.register(Dropout.class, (block, input, context) -> input.name());
        exporter.register(Pool2d.class, StandardLayers::pool);

        exporter.registerLambda("identity", x -> x, (block, input, context) -> input.name());
        exporter.registerLambda("ReLU", Activation::relu, unary("Relu"));
        exporter.registerLambda("sigmoid", Activation::sigmoid, unary("Sigmoid"));
        exporter.registerLambda("Tanh", Activation::tanh, unary("Tanh"));
        exporter.registerLambda("ReLU6", Activation::relu6, (block, input, context) -> context.node("Clip", List.of(
                input.name(),
                context.initializer("min", Tensors.scalarFloat("min", 0f)),
                context.initializer("max", Tensors.scalarFloat("max", 6f)))));
        exporter.registerLambda("batchFlatten", Blocks::batchFlatten, (block, input, context) ->
                context.node("Flatten", List.of(input.name()), integer("axis", 1)));
        // DJL's global pooling returns [N, C], ONNX's [N, C, 1, 1]
        exporter.registerLambda("globalAvgPool2d", Pool::globalAvgPool2d, (block, input, context) ->
                context.node("Flatten", List.of(context.node("GlobalAveragePool", List.of(input.name()))), integer("axis", 1)));
        exporter.registerLambda("globalMaxPool2d", Pool::globalMaxPool2d, (block, input, context) ->
                context.node("Flatten", List.of(context.node("GlobalMaxPool", List.of(input.name()))), integer("axis", 1)));
        for (String name : List.of("maxPool2d", "avgPool2d")) {
            exporter.registerLambda(name, null, (block, input, context) -> {
                throw context.unsupported(block, "'" + name + "' (from DJL's Pool." + name + "Block) cannot be exported:"
                        + " DJL keeps its kernel, stride and padding inside a lambda; build the model with "
                        + Pool2d.class.getName() + "." + name.substring(0, 3) + "(...) instead");
            });
        }
    }

    private static BlockHandler<Block> unary(String opType) {
        return (block, input, context) -> context.node(opType, List.of(input.name()));
    }

    private static String sequential(SequentialBlock block, Value input, ExportContext context) {
        if (block.isReturnIntermediate()) {
            throw context.unsupported(block, "returns every intermediate output; only single-output models can be exported");
        }
        Value value = input;
        for (Pair<String, Block> child : block.getChildren()) {
            value = context.export(child.getValue(), child.getKey(), value);
        }
        return value.name();
    }

    private static String convolution(Convolution block, Value input, ExportContext context) {
        List<String> inputs = new ArrayList<>(List.of(input.name(), context.parameter(block, "weight")));
        if (block.isIncludeBias()) {
            inputs.add(context.parameter(block, "bias"));
        }
        long[] padding = block.getPadding().getShape();
        long[] pads = new long[padding.length * 2]; // all begins, then all ends
        System.arraycopy(padding, 0, pads, 0, padding.length);
        System.arraycopy(padding, 0, pads, padding.length, padding.length);
        return context.node("Conv", inputs,
                ints("kernel_shape", block.getKernelShape()),
                ints("strides", block.getStride()),
                ints("pads", pads),
                ints("dilations", block.getDilation()),
                integer("group", block.getGroups()));
    }

    private static String batchNorm(BatchNorm block, Value input, ExportContext context) {
        int axis = (Integer) privateField(block, "axis", context);
        float epsilon = (Float) privateField(block, "epsilon", context);
        if (axis != 1) {
            throw context.unsupported(block, "normalises axis " + axis + "; ONNX BatchNormalization normalises axis 1");
        }
        return context.node("BatchNormalization", List.of(input.name(),
                        context.parameter(block, "gamma"),
                        context.parameter(block, "beta"),
                        context.parameter(block, "runningMean"),
                        context.parameter(block, "runningVar")),
                real("epsilon", epsilon));
    }

    /** DJL 0.36's BatchNorm offers no getters for its epsilon and axis, which the inference formula needs. */
    private static Object privateField(BatchNorm block, String name, ExportContext context) {
        try {
            Field field = BatchNorm.class.getDeclaredField(name);
            field.setAccessible(true);
            return field.get(block);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw context.unsupported(block, "does not let its '" + name + "' be read (" + e.getMessage()
                    + "); this DJL version is not supported by the exporter");
        }
    }

    private static String linear(Linear block, Value input, ExportContext context) {
        boolean hasBias = block.getDirectParameters().keys().contains("bias");
        if (input.shape().dimension() == 2) {
            List<String> inputs = new ArrayList<>(List.of(input.name(), context.parameter(block, "weight")));
            if (hasBias) {
                inputs.add(context.parameter(block, "bias"));
            }
            return context.node("Gemm", inputs, integer("transB", 1));
        }
        // Linear acts on the last axis of any rank; Gemm takes matrices only
        String transposed;
        try (NDArray weight = context.parameterArray(block, "weight").transpose()) {
            transposed = context.initializer("weight_t", weight);
        }
        String product = context.node("MatMul", List.of(input.name(), transposed));
        return hasBias ? context.node("Add", List.of(product, context.parameter(block, "bias"))) : product;
    }

    /**
     * Pooling without ONNX's ceil_mode, whose edge behaviour differs between runtimes (ONNX Runtime divides an
     * average over a window that overruns the input by the whole kernel, PyTorch by the part inside the padded
     * input). The spatial size is fixed at export, so the extra end padding that PyTorch's ceil mode implies is
     * written out, and averages over overrunning windows get PyTorch's divisor through a constant correction.
     */
    private static String pool(Pool2d block, Value input, ExportContext context) {
        Shape in = input.shape();
        Shape out = block.getOutputShapes(new Shape[] {in})[0];
        long[] kernel = block.kernel().getShape();
        long[] stride = block.stride().getShape();
        long[] padding = block.padding().getShape();
        if (kernel[0] == in.get(2) && kernel[1] == in.get(3) && padding[0] == 0 && padding[1] == 0) {
            // one window over the whole map (as in squeeze-excite): the global form says so to every reader of the graph
            return context.node(block.kind() == Pool2d.Kind.MAX ? "GlobalMaxPool" : "GlobalAveragePool", List.of(input.name()));
        }
        long[] endPadding = new long[2];
        boolean overruns = false;
        for (int axis = 0; axis < 2; axis++) {
            long needed = (out.get(2 + axis) - 1) * stride[axis] + kernel[axis] - in.get(2 + axis) - padding[axis];
            endPadding[axis] = Math.max(padding[axis], needed);
            overruns |= needed > padding[axis];
        }
        AttributeProto[] window = {
                ints("kernel_shape", kernel),
                ints("strides", stride),
                ints("pads", padding[0], padding[1], endPadding[0], endPadding[1])};
        if (block.kind() == Pool2d.Kind.MAX) {
            return context.node("MaxPool", List.of(input.name()), window);
        }
        String average = context.node("AveragePool", List.of(input.name()), append(window, integer("count_include_pad", 1)));
        if (!overruns) {
            return average;
        }
        long outH = out.get(2);
        long outW = out.get(3);
        float[] correction = new float[(int) (outH * outW)];
        for (int oh = 0; oh < outH; oh++) {
            for (int ow = 0; ow < outW; ow++) {
                long inside = windowInsidePadding(oh, 0, in.get(2), kernel, stride, padding)
                        * windowInsidePadding(ow, 1, in.get(3), kernel, stride, padding);
                correction[(int) (oh * outW + ow)] = (float) (kernel[0] * kernel[1]) / inside;
            }
        }
        return context.node("Mul", List.of(average, context.initializer("ceil_correction", new long[] {1, 1, outH, outW}, correction)));
    }

    /** PyTorch's divisor along one axis: the part of the window that lies inside the zero-padded input. */
    private static long windowInsidePadding(long position, int axis, long size, long[] kernel, long[] stride, long[] padding) {
        long start = position * stride[axis] - padding[axis];
        return Math.min(start + kernel[axis], size + padding[axis]) - start;
    }

    private static AttributeProto[] append(AttributeProto[] attributes, AttributeProto extra) {
        AttributeProto[] all = java.util.Arrays.copyOf(attributes, attributes.length + 1);
        all[attributes.length] = extra;
        return all;
    }
}
