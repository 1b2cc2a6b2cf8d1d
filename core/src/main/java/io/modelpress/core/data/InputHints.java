package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.ValueShape;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the user says about model inputs that the model does not declare: a shape for an input with symbolic
 * dimensions ({@code input=1x512}) and a constant value for an input that needs a particular one ({@code sr=16000}).
 * Synthetic inputs follow them, and a data file that lacks an input with a value hint gets that constant.
 *
 * <p>A shape gives the input's full shape (rank as declared, e.g. {@code 1x512} for [batch, samples]) or its shape
 * without the batch dimension ({@code 512}); the batch dimension always follows the batch size being run, so
 * {@code 1x512} and {@code 512} mean the same for an input with a batch dimension. Values are numbers, converted to the
 * input's element type (bool: non-zero is true).
 *
 * @param shapes input name -> dimensions (each at least 1)
 * @param values input name -> Long or Double
 */
public record InputHints(Map<String, long[]> shapes, Map<String, Number> values) {
    public static final InputHints NONE = new InputHints(Map.of(), Map.of());

    private static final Pattern INTEGER = Pattern.compile("[+-]?\\d+");
    private static final long MAX_DIM = 1L << 31;

    public InputHints {
        shapes = Collections.unmodifiableMap(new LinkedHashMap<>(shapes));
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /**
     * Hints from {@code NAME=DIMS} and {@code NAME=VALUE} arguments (the CLI's repeatable {@code --shape} and
     * {@code --value}).
     *
     * @throws ModelPressException BAD_ARGUMENT naming the argument and what is wrong with it
     */
    public static InputHints parse(List<String> shapeArguments, List<String> valueArguments) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String argument : shapeArguments) {
            String[] pair = split(argument, "--shape", "input=1x512");
            if (shapes.put(pair[0], parseShape(pair[1], "--shape " + argument)) != null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "--shape " + argument, "gives a second shape for input '" + pair[0] + "'");
            }
        }
        Map<String, Number> values = new LinkedHashMap<>();
        for (String argument : valueArguments) {
            String[] pair = split(argument, "--value", "sr=16000");
            if (values.put(pair[0], parseValue(pair[1], "--value " + argument)) != null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "--value " + argument, "gives a second value for input '" + pair[0] + "'");
            }
        }
        return new InputHints(shapes, values);
    }

    private static String[] split(String argument, String option, String example) {
        int eq = argument.indexOf('=');
        if (eq <= 0 || eq == argument.length() - 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, option + " " + argument,
                    "expected NAME=" + (option.equals("--shape") ? "DIMS" : "VALUE") + ", e.g. " + option + " " + example);
        }
        return new String[] {argument.substring(0, eq).trim(), argument.substring(eq + 1).trim()};
    }

    /**
     * A shape written as dimensions joined by {@code x} (or commas), e.g. {@code 1x512} or {@code 2,1,128}; square
     * brackets around it are allowed.
     *
     * @param where names the hint in the error, e.g. {@code --shape input=1x512}
     * @throws ModelPressException BAD_ARGUMENT when a dimension is not a whole number from 1 to 2^31
     */
    public static long[] parseShape(String text, String where) {
        String body = text.trim();
        if (body.startsWith("[") && body.endsWith("]")) {
            body = body.substring(1, body.length() - 1).trim();
        }
        if (body.isEmpty()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "gives no dimensions; write them like 1x512 "
                    + "(a scalar input needs no shape, only a value)");
        }
        String[] parts = body.split("\\s*[xX,]\\s*", -1);
        long[] dims = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i].trim();
            long dim;
            try {
                dim = INTEGER.matcher(part).matches() ? Long.parseLong(part) : -1;
            } catch (NumberFormatException e) {
                dim = -1;
            }
            if (dim < 1 || dim > MAX_DIM) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "dimension '" + part + "' is not a whole number "
                        + "from 1 to " + MAX_DIM + "; write the shape like 1x512");
            }
            dims[i] = dim;
        }
        return dims;
    }

    /**
     * A constant: a whole number (kept exact, as Long) or a decimal number (Double); {@code true}/{@code false} are 1 and 0.
     *
     * @throws ModelPressException BAD_ARGUMENT when the text is not a finite number
     */
    public static Number parseValue(String text, String where) {
        String body = text.trim();
        if (body.equals("true") || body.equals("false")) {
            return body.equals("true") ? 1L : 0L;
        }
        try {
            if (INTEGER.matcher(body).matches()) {
                return Long.parseLong(body);
            }
            double value = Double.parseDouble(body);
            if (Double.isFinite(value) && !body.endsWith("d") && !body.endsWith("D") && !body.endsWith("f") && !body.endsWith("F")) {
                return value;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "'" + body + "' is not a number; give the value to "
                + "fill the input with, e.g. 16000 or 0.5");
    }

    public boolean isEmpty() {
        return shapes.isEmpty() && values.isEmpty();
    }

    /** These hints with {@code overrides} replacing them input by input (e.g. the command line over a recipe). */
    public InputHints overriddenBy(InputHints overrides) {
        Map<String, long[]> mergedShapes = new LinkedHashMap<>(shapes);
        mergedShapes.putAll(overrides.shapes);
        Map<String, Number> mergedValues = new LinkedHashMap<>(values);
        mergedValues.putAll(overrides.values);
        return new InputHints(mergedShapes, mergedValues);
    }

    /**
     * Checks the hints against the model's inputs: every hint names an input, and a shape agrees with the input's
     * rank (with or without the batch dimension) and its fixed dimensions.
     *
     * @throws ModelPressException BAD_ARGUMENT naming the hint, the input and its declared shape
     */
    public void check(List<ValueShape> inputs) {
        Map<String, ValueShape> byName = new LinkedHashMap<>();
        inputs.forEach(i -> byName.put(i.name(), i));
        for (String name : values.keySet()) {
            requireInput(byName, name, "value");
        }
        Map<String, Integer> axes = BatchAxes.of(inputs);
        for (Map.Entry<String, long[]> hint : shapes.entrySet()) {
            ValueShape input = requireInput(byName, hint.getKey(), "shape");
            if (input.rankKnown() && input.dims().isEmpty()) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "shape hint for '" + input.name() + "'",
                        "the input is a scalar: it takes a value (e.g. " + input.name() + "=16000), not a shape");
            }
            long[] full = fullShape(input, axes.get(input.name()), hint.getValue(), 1);
            if (full == null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "shape hint " + hint.getKey() + "=" + HostArray.shapeString(hint.getValue()),
                        "does not fit input '" + input.name() + "' of shape " + ModelInputs.dims(input.dims()) + ": give "
                                + input.dims().size() + " dimensions" + (axes.get(input.name()) == BatchAxes.NONE ? ""
                                : " (or " + (input.dims().size() - 1) + " without the batch dimension)") + ", e.g. " + example(input, axes.get(input.name())));
            }
        }
    }

    private ValueShape requireInput(Map<String, ValueShape> inputs, String name, String kind) {
        ValueShape input = inputs.get(name);
        if (input == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, kind + " hint for '" + name + "'",
                    "the model has no input of that name (inputs: " + String.join(", ", inputs.keySet()) + ")");
        }
        return input;
    }

    /**
     * The shape to feed {@code input} given a shape hint, with {@code rows} at the batch axis; null when the hint
     * does not fit the input's rank or fixed dimensions. An input of unknown rank takes the hint as its full shape.
     */
    static long[] fullShape(ValueShape input, int batchAxis, long[] hint, long rows) {
        if (!input.rankKnown()) {
            long[] shape = hint.clone();
            shape[0] = rows;
            return shape;
        }
        int rank = input.dims().size();
        long[] shape;
        if (hint.length == rank) {
            shape = hint.clone();
        } else if (batchAxis != BatchAxes.NONE && hint.length == rank - 1) {
            shape = new long[rank];
            for (int i = 0, h = 0; i < rank; i++) {
                shape[i] = i == batchAxis ? rows : hint[h++];
            }
        } else {
            return null;
        }
        for (int i = 0; i < rank; i++) {
            ValueShape.Dim dim = input.dims().get(i);
            if (i == batchAxis) {
                shape[i] = dim.isFixed() ? dim.value() : rows;
            } else if (dim.isFixed() && dim.value() != shape[i]) {
                return null;
            }
        }
        return shape;
    }

    private static String example(ValueShape input, int batchAxis) {
        long[] dims = input.concreteDims(SyntheticDataset.SYMBOLIC_LENGTH);
        if (batchAxis != BatchAxes.NONE) {
            dims[batchAxis] = 1;
        }
        return input.name() + "=" + Arrays.stream(dims).mapToObj(Long::toString).reduce((a, b) -> a + "x" + b).orElse("");
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        shapes.forEach((name, dims) -> out.append(out.isEmpty() ? "" : ", ").append(name).append('=')
                .append(Arrays.stream(dims).mapToObj(Long::toString).reduce((a, b) -> a + "x" + b).orElse("")));
        values.forEach((name, value) -> out.append(out.isEmpty() ? "" : ", ").append(name).append('=').append(value));
        return out.toString();
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof InputHints that) || !values.equals(that.values) || !shapes.keySet().equals(that.shapes.keySet())) {
            return false;
        }
        return shapes.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue(), that.shapes.get(e.getKey())));
    }

    @Override
    public int hashCode() {
        return shapes.keySet().hashCode() * 31 + values.hashCode();
    }
}
