package io.modelpress.core.data;

import io.modelpress.core.onnx.ValueShape;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Which axis of each model input holds the batch (the samples), the one rule data files, synthetic inputs and the
 * evaluator share.
 *
 * <ul>
 *   <li>When no input leaves its first dimension open, the model fixes its batch: dimension 0 of every input of
 *       rank 1 or more (e.g. {@code [1,3,224,224]}).</li>
 *   <li>Otherwise the batch dimension is the open first dimension of the inputs (named, e.g. {@code batch}, or not):
 *       an input whose first dimension is open has it at axis 0; an input whose first dimension is fixed has it at
 *       the first open axis of the same name (or, when the batch is unnamed, the first unnamed open axis), e.g. axis 1
 *       of a recurrent state {@code [2,batch,128]}.</li>
 *   <li>Scalars, and inputs without such an axis, have none ({@link #NONE}): they are fed whole with every batch.</li>
 * </ul>
 */
public final class BatchAxes {
    /** The input has no batch axis. */
    public static final int NONE = -1;

    private BatchAxes() {
    }

    /** Input name -> batch axis, or {@link #NONE}; an input of unknown rank is taken to batch along axis 0. */
    public static Map<String, Integer> of(List<ValueShape> inputs) {
        boolean anyOpenFirst = inputs.stream().anyMatch(BatchAxes::openFirst);
        String batchName = batchName(inputs);
        Map<String, Integer> axes = new LinkedHashMap<>();
        for (ValueShape input : inputs) {
            axes.put(input.name(), axis(input, anyOpenFirst, batchName));
        }
        return axes;
    }

    /**
     * Output name -> the axis that carries the batch, by the same rule as the inputs' (a recurrent state output
     * {@code [2,batch,128]} has it at axis 1); 0 where the declared shape does not say (the usual batch-first layout).
     */
    public static Map<String, Integer> ofOutputs(List<ValueShape> inputs, List<ValueShape> outputs) {
        boolean anyOpenFirst = inputs.stream().anyMatch(BatchAxes::openFirst);
        String batchName = batchName(inputs);
        Map<String, Integer> axes = new LinkedHashMap<>();
        for (ValueShape output : outputs) {
            int axis = 0;
            if (anyOpenFirst && output.rankKnown() && !output.dims().isEmpty()) {
                int named = batchName == null ? NONE : output.dims().stream().map(d -> emptyToNull(d.param())).toList().indexOf(batchName);
                int found = named != NONE ? named : axis(output, true, batchName);
                axis = found == NONE ? 0 : found;
            }
            axes.put(output.name(), axis);
        }
        return axes;
    }

    private static boolean openFirst(ValueShape value) {
        return value.rankKnown() && !value.dims().isEmpty() && !value.dims().get(0).isFixed();
    }

    /** The name of the inputs' open first dimension (e.g. "batch"), or null when it is unnamed. */
    private static String batchName(List<ValueShape> inputs) {
        for (ValueShape input : inputs) {
            if (openFirst(input) && emptyToNull(input.dims().get(0).param()) != null) {
                return input.dims().get(0).param();
            }
        }
        return null;
    }

    private static int axis(ValueShape input, boolean anyOpenFirst, String batchName) {
        if (!input.rankKnown()) {
            return 0;
        }
        List<ValueShape.Dim> dims = input.dims();
        if (dims.isEmpty()) {
            return NONE;
        }
        if (!anyOpenFirst || !dims.get(0).isFixed()) {
            return 0;
        }
        for (int i = 1; i < dims.size(); i++) {
            ValueShape.Dim dim = dims.get(i);
            if (!dim.isFixed() && Objects.equals(emptyToNull(dim.param()), batchName)) {
                return i;
            }
        }
        return NONE;
    }

    private static String emptyToNull(String name) {
        return name == null || name.isEmpty() ? null : name;
    }

    /** The batch size the model fixes (dimension 0 when no input leaves it open), or -1 when the batch is open. */
    public static long fixedBatch(List<ValueShape> inputs) {
        long fixed = -1;
        for (ValueShape input : inputs) {
            if (input.rankKnown() && !input.dims().isEmpty()) {
                if (!input.dims().get(0).isFixed()) {
                    return -1;
                }
                if (fixed < 0) {
                    fixed = input.dims().get(0).value();
                }
            }
        }
        return fixed;
    }
}
