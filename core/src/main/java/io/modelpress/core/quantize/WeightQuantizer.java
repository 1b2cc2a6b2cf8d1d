package io.modelpress.core.quantize;

/**
 * Round-to-nearest quantization of float weights, per tensor, per channel (one scale per slice along an axis) or
 * per block (blocks of consecutive values along the last axis of each row, as MatMulNBits stores them).
 * q = clamp(round(x / scale) + zeroPoint), x ~ (q - zeroPoint) * scale.
 */
public final class WeightQuantizer {
    private WeightQuantizer() {
    }

    /** Quantized values (one int per element, in the input's order) and their parameters. */
    public record Quantized(int[] values, float[] scales, int[] zeroPoints, QuantType type) {
        public byte[] bytes() {
            byte[] out = new byte[values.length];
            for (int i = 0; i < values.length; i++) {
                out[i] = (byte) values[i];
            }
            return out;
        }
    }

    /**
     * Quantizes a tensor with one (scale, zero point) per group of elements.
     *
     * @param groupOf maps an element index to its group
     * @param groups  number of groups
     */
    public static Quantized quantize(float[] values, int groups, java.util.function.IntUnaryOperator groupOf,
                                     QuantType type, boolean symmetric) {
        float[] min = new float[groups];
        float[] max = new float[groups];
        for (int i = 0; i < values.length; i++) {
            int g = groupOf.applyAsInt(i);
            min[g] = Math.min(min[g], values[i]);
            max[g] = Math.max(max[g], values[i]);
        }
        float[] scales = new float[groups];
        int[] zeroPoints = new int[groups];
        for (int g = 0; g < groups; g++) {
            if (symmetric) {
                float absMax = Math.max(Math.abs(min[g]), Math.abs(max[g]));
                scales[g] = absMax == 0 ? 1f : absMax / type.symmetricLimit();
                zeroPoints[g] = type.symmetricZeroPoint();
            } else {
                // the range always includes zero, so that zero is represented exactly (padding, ReLU outputs)
                float span = max[g] - min[g];
                scales[g] = span == 0 ? 1f : span / (type.max() - type.min());
                zeroPoints[g] = clamp(Math.round(type.min() - min[g] / scales[g]), type);
            }
        }
        int[] q = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            int g = groupOf.applyAsInt(i);
            q[i] = clamp(Math.round(values[i] / scales[g]) + zeroPoints[g], type);
        }
        return new Quantized(q, scales, zeroPoints, type);
    }

    public static Quantized perTensor(float[] values, QuantType type, boolean symmetric) {
        return quantize(values, 1, i -> 0, type, symmetric);
    }

    /**
     * One scale per index along {@code axis} of a tensor with shape {@code dims} (row-major). For a MatMul weight
     * [K, N] the output channels are axis 1; for a Conv weight [M, C, kh, kw] they are axis 0.
     */
    public static Quantized perChannel(float[] values, long[] dims, int axis, QuantType type, boolean symmetric) {
        int channels = (int) dims[axis];
        long inner = 1;
        for (int d = axis + 1; d < dims.length; d++) {
            inner *= dims[d];
        }
        long stride = inner;
        return quantize(values, channels, i -> (int) ((i / stride) % channels), type, symmetric);
    }

    public static float[] dequantize(Quantized q, java.util.function.IntUnaryOperator groupOf) {
        float[] out = new float[q.values().length];
        for (int i = 0; i < out.length; i++) {
            int g = groupOf.applyAsInt(i);
            out[i] = (q.values()[i] - q.zeroPoints()[g]) * q.scales()[g];
        }
        return out;
    }

    static int clamp(int v, QuantType type) {
        return Math.max(type.min(), Math.min(type.max(), v));
    }
}
