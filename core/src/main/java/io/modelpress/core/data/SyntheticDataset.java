package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random inputs shaped like the model's, for when no data is given: enough to time a model and to compare a
 * compressed model with its original on plausible inputs, never a substitute for real data (reports say so).
 * Floats are standard normal; integer inputs named like masks are 1, like token types / segments 0, like positions
 * 0..n-1, and other integers (token ids) uniform in [0, 1000). {@link InputHints} set shapes and constant values.
 * The batch runs along each input's batch axis ({@link BatchAxes}); other symbolic dimensions get
 * {@value #SYMBOLIC_LENGTH} unless a shape hint gives them.
 */
final class SyntheticDataset implements Dataset {
    static final int DEFAULT_SAMPLES = 64;
    /** Length used for symbolic non-batch dimensions (sequence length, ...). */
    static final int SYMBOLIC_LENGTH = 32;

    private final List<ValueShape> inputs;
    private final Map<String, Integer> batchAxes;
    private final InputHints hints;
    private final boolean batched;
    private final Random random = new Random(20261128L);
    private long remaining;

    SyntheticDataset(List<ValueShape> inputs, long samples, InputHints hints) {
        this.inputs = inputs;
        this.batchAxes = BatchAxes.of(inputs);
        this.hints = hints;
        this.batched = batchAxes.values().stream().anyMatch(axis -> axis != BatchAxes.NONE);
        this.remaining = samples;
    }

    @Override
    public boolean hasLabels() {
        return false;
    }

    @Override
    public Batch next(int maxRows) {
        // a model without a batch axis (only scalars and whole-fed inputs) takes one sample per run
        int rows = (int) Math.min(batched ? maxRows : 1, remaining);
        if (rows <= 0) {
            return null;
        }
        remaining -= rows;
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        HostArray mask = null;
        for (ValueShape input : inputs) {
            long[] shape = shape(input, batchAxes.get(input.name()), hints, rows);
            DataType type = input.type() == null ? DataType.FLOAT : input.type();
            Number value = hints.values().get(input.name());
            HostArray array = value != null ? constant(type, shape, value) : random(input.name(), type, shape);
            arrays.put(input.name(), array);
            if (input.name().toLowerCase(Locale.ROOT).equals("attention_mask")) {
                mask = array;
            }
        }
        return new Batch(rows, arrays, null, mask != null && mask.rank() == 2 ? mask : null);
    }

    private HostArray random(String inputName, DataType type, long[] shape) {
        HostArray array = HostArray.zeros(type, shape);
        String name = inputName.toLowerCase(Locale.ROOT);
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
        return array;
    }

    /** An array of one value, converted to the type (integers exactly). */
    static HostArray constant(DataType type, long[] shape, Number value) {
        HostArray array = HostArray.zeros(type, shape);
        for (int i = 0; i < array.elementCount(); i++) {
            if (value instanceof Long whole) {
                array.setLong(i, whole);
            } else {
                array.set(i, value.doubleValue());
            }
        }
        return array;
    }

    /**
     * The shape fed to an input for {@code rows} samples: the shape hint if there is one, else the declared shape
     * with {@value #SYMBOLIC_LENGTH} for symbolic dimensions; {@code rows} at an open batch axis either way (a model
     * that fixes its batch is only ever asked for that many rows).
     */
    static long[] shape(ValueShape input, int batchAxis, InputHints hints, long rows) {
        long[] hint = hints.shapes().get(input.name());
        if (hint != null) {
            long[] shape = InputHints.fullShape(input, batchAxis, hint, rows);
            if (shape == null) {
                throw new IllegalStateException("unchecked shape hint for " + input.name());
            }
            return shape;
        }
        long[] shape = new long[input.dims().size()];
        for (int d = 0; d < shape.length; d++) {
            ValueShape.Dim dim = input.dims().get(d);
            shape[d] = dim.isFixed() ? dim.value() : d == batchAxis ? rows : SYMBOLIC_LENGTH;
        }
        return shape;
    }

    /**
     * ONNX Runtime refused these made-up inputs: say what was guessed and how to give what the model needs, with ONNX
     * Runtime's own words for detail.
     */
    @Override
    public ModelPressException explain(ModelPressException failure) {
        if (failure.code() != ErrorCode.RUNTIME_ERROR) {
            return failure;
        }
        List<String> guessed = new ArrayList<>();
        List<String> fixes = new ArrayList<>();
        for (ValueShape input : inputs) {
            int axis = batchAxes.get(input.name());
            boolean shapeGiven = hints.shapes().containsKey(input.name());
            if (!shapeGiven) {
                List<String> lengths = new ArrayList<>();
                for (int d = 0; d < input.dims().size(); d++) {
                    ValueShape.Dim dim = input.dims().get(d);
                    if (d != axis && !dim.isFixed()) {
                        lengths.add((dim.param() == null || dim.param().isEmpty() ? "dimension " + d : "'" + dim.param() + "'") + " = " + SYMBOLIC_LENGTH);
                    }
                }
                if (!lengths.isEmpty()) {
                    guessed.add("input '" + input.name() + "' " + ModelInputs.dims(input.dims()) + " with " + String.join(", ", lengths));
                    fixes.add("--shape " + input.name() + "=" + example(input, axis));
                }
            }
            if (!hints.values().containsKey(input.name()) && input.type() != null && !input.type().isFloatingPoint()
                    && input.type() != DataType.BOOL && isSmall(input, axis)) {
                guessed.add("input '" + input.name() + "' (" + input.type().displayName() + " " + ModelInputs.dims(input.dims())
                        + ") filled with random values");
                fixes.add("--value " + input.name() + "=V");
            }
        }
        String how = guessed.isEmpty()
                ? " - the inputs were made up (no data given); give a data file (--data) with the inputs the model needs"
                : " - the inputs were made up (no data given), guessing " + String.join("; ", guessed) + ". Give what the "
                + "model needs, e.g. " + String.join(" ", fixes) + " (N, V: what the model expects; in a recipe: the eval "
                + "stage's shape and value keys), or a data file (--data)";
        return new ModelPressException(ErrorCode.DATA_MISMATCH, failure.location(), failure.detail() + how, failure);
    }

    /** A scalar or a small fixed-size integer input: likely a setting (a sample rate, a flag), not data. */
    private static boolean isSmall(ValueShape input, int batchAxis) {
        return input.rankKnown() && batchAxis == BatchAxes.NONE && input.isFullyKnown()
                && HostArray.elementCount(input.concreteDims(1)) <= 4;
    }

    /** The input's shape for a hint: batch 1, declared fixed sizes, and N where the model leaves the size open. */
    private static String example(ValueShape input, int batchAxis) {
        StringBuilder out = new StringBuilder();
        for (int d = 0; d < input.dims().size(); d++) {
            ValueShape.Dim dim = input.dims().get(d);
            out.append(d == 0 ? "" : "x").append(d == batchAxis ? "1" : dim.isFixed() ? Long.toString(dim.value()) : "N");
        }
        return out.toString();
    }

    @Override
    public void close() {
    }
}
