package io.modelpress.core.data;

import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random inputs shaped like the model's, for when no data is given: enough to time a model and to compare a
 * compressed model with its original on plausible inputs, never a substitute for real data (reports say so).
 * Floats are standard normal; integer inputs named like masks are 1, like token types / segments 0, like positions
 * 0..n-1, and other integers (token ids) uniform in [0, 1000).
 */
final class SyntheticDataset implements Dataset {
    static final int DEFAULT_SAMPLES = 64;
    /** Length used for symbolic non-batch dimensions (sequence length, ...). */
    static final int SYMBOLIC_LENGTH = 32;

    private final List<ValueShape> inputs;
    private final Random random = new Random(20261128L);
    private long remaining;

    SyntheticDataset(List<ValueShape> inputs, long samples) {
        this.inputs = inputs;
        this.remaining = samples;
    }

    @Override
    public boolean hasLabels() {
        return false;
    }

    @Override
    public Batch next(int maxRows) {
        int rows = (int) Math.min(maxRows, remaining);
        if (rows <= 0) {
            return null;
        }
        remaining -= rows;
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        HostArray mask = null;
        for (ValueShape input : inputs) {
            long[] shape = new long[input.dims().size()];
            for (int d = 0; d < shape.length; d++) {
                ValueShape.Dim dim = input.dims().get(d);
                shape[d] = d == 0 && !dim.isFixed() ? rows : dim.isFixed() ? dim.value() : SYMBOLIC_LENGTH;
            }
            DataType type = input.type() == null ? DataType.FLOAT : input.type();
            HostArray array = HostArray.zeros(type, shape);
            String name = input.name().toLowerCase(Locale.ROOT);
            long inner = shape.length == 0 ? 1 : shape[shape.length - 1];
            for (int i = 0; i < array.elementCount(); i++) {
                if (type.isFloatingPoint()) {
                    array.set(i, random.nextGaussian());
                } else if (name.contains("mask") || type == DataType.BOOL) {
                    array.setLong(i, 1);
                } else if (name.contains("type") || name.contains("segment")) {
                    array.setLong(i, 0);
                } else if (name.contains("position")) {
                    array.setLong(i, i % inner);
                } else {
                    array.setLong(i, random.nextInt(1000));
                }
            }
            arrays.put(input.name(), array);
            if (name.equals("attention_mask")) {
                mask = array;
            }
        }
        return new Batch(rows, arrays, null, mask);
    }

    @Override
    public void close() {
    }
}
