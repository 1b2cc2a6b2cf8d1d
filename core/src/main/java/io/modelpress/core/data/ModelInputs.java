package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** Checks that data fits a model's declared inputs (where the samples run: {@link BatchAxes}). */
final class ModelInputs {
    private static final Set<DataType> SUPPORTED = Set.of(DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16,
            DataType.BFLOAT16, DataType.INT64, DataType.INT32, DataType.INT8, DataType.UINT8, DataType.BOOL);

    private ModelInputs() {
    }

    /** The element type data must be converted to for this input. */
    static DataType elementType(ValueShape input) {
        if (input.type() == null) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model input '" + input.name() + "'",
                    "is not a tensor, or declares no element type; only tensor inputs can be fed from data files");
        }
        if (!SUPPORTED.contains(input.type())) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model input '" + input.name() + "'",
                    "has element type " + input.type().displayName() + ", which data files cannot feed "
                            + "(supported: float, double, float16, bfloat16, int64, int32, int8, uint8, bool)");
        }
        return input.type();
    }

    /**
     * Checks that an array of shape {@code arrayShape} (read from {@code source}) fits the input, whose samples run
     * along {@code batchAxis} (see {@link BatchAxes}): the input's rank, and equal sizes wherever the input's size is
     * fixed, except at the batch axis, whose length is the number of samples. An input without a batch axis takes the
     * array whole with every batch.
     */
    static void checkArray(ValueShape input, int batchAxis, long[] arrayShape, String source) {
        if (!input.rankKnown()) {
            return;
        }
        List<ValueShape.Dim> declared = input.dims();
        if (batchAxis == 0) {
            List<ValueShape.Dim> sample = declared.subList(1, declared.size());
            long[] rowShape = arrayShape.length == 0 ? null : java.util.Arrays.copyOfRange(arrayShape, 1, arrayShape.length);
            if (rowShape == null || !fits(sample, rowShape, -1)) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, source, (rowShape == null ? "is a 0-d array (a scalar)"
                        : "has samples of shape " + HostArray.shapeString(rowShape)) + " but model input '" + input.name()
                        + "' expects samples of shape " + dims(sample) + " (input shape " + dims(declared) + "; the first "
                        + "dimension of the array counts the samples)");
            }
            return;
        }
        if (!fits(declared, arrayShape, batchAxis)) {
            String rule = batchAxis == BatchAxes.NONE
                    ? "; it has no batch dimension, so the array is fed whole with every batch and must have that shape"
                    + (declared.isEmpty() ? " (a 0-d array, e.g. np.array(16000))" : "")
                    : "; its samples run along axis " + batchAxis + ", so the array must have that shape with any number "
                    + "of samples at axis " + batchAxis;
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, source, "has shape " + HostArray.shapeString(arrayShape)
                    + " but model input '" + input.name() + "' has shape " + dims(declared) + rule);
        }
    }

    /** Same rank, and equal sizes wherever {@code declared} is fixed, except at {@code skipAxis}. */
    private static boolean fits(List<ValueShape.Dim> declared, long[] shape, int skipAxis) {
        if (declared.size() != shape.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (i != skipAxis && declared.get(i).isFixed() && declared.get(i).value() != shape[i]) {
                return false;
            }
        }
        return true;
    }

    static String dims(List<ValueShape.Dim> dims) {
        return dims.stream().map(ValueShape.Dim::toString).collect(Collectors.joining(",", "[", "]"));
    }

    static String names(List<ValueShape> inputs) {
        return inputs.stream().map(ValueShape::name).collect(Collectors.joining(", "));
    }
}
