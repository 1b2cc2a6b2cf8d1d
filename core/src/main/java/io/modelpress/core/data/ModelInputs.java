package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** Checks that data fits a model's declared inputs: dimension 0 is the batch, the rest is one sample. */
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
     * Checks that samples of shape {@code rowShape} (read from {@code source}) fit the input: the same rank as the
     * input minus its batch dimension, and equal sizes wherever the input's size is fixed.
     */
    static void checkRow(ValueShape input, long[] rowShape, String source) {
        if (!input.rankKnown()) {
            return;
        }
        if (input.dims().isEmpty()) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model input '" + input.name() + "'",
                    "is a scalar; inputs need a first (batch) dimension to be fed from data");
        }
        List<ValueShape.Dim> sample = input.dims().subList(1, input.dims().size());
        boolean fits = sample.size() == rowShape.length;
        for (int i = 0; fits && i < rowShape.length; i++) {
            fits = !sample.get(i).isFixed() || sample.get(i).value() == rowShape[i];
        }
        if (!fits) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, source,
                    "has samples of shape " + HostArray.shapeString(rowShape) + " but model input '" + input.name()
                            + "' expects samples of shape " + dims(sample) + " (input shape " + dims(input.dims()) + ")");
        }
    }

    static String dims(List<ValueShape.Dim> dims) {
        return dims.stream().map(ValueShape.Dim::toString).collect(Collectors.joining(",", "[", "]"));
    }

    static String names(List<ValueShape> inputs) {
        return inputs.stream().map(ValueShape::name).collect(Collectors.joining(", "));
    }
}
