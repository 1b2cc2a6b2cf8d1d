package io.modelpress.core.quantize;

import io.modelpress.core.onnx.DataType;

/** Integer types a tensor can be quantized to, with their value ranges. */
public enum QuantType {
    INT8(DataType.INT8, -128, 127),
    UINT8(DataType.UINT8, 0, 255),
    INT4(DataType.INT4, -8, 7),
    UINT4(DataType.UINT4, 0, 15);

    private final DataType dataType;
    private final int min;
    private final int max;

    QuantType(DataType dataType, int min, int max) {
        this.dataType = dataType;
        this.min = min;
        this.max = max;
    }

    public DataType dataType() {
        return dataType;
    }

    public int min() {
        return min;
    }

    public int max() {
        return max;
    }

    public boolean signed() {
        return min < 0;
    }

    /**
     * Symmetric quantization uses a range that is the same either side of zero, so the zero point sits mid-range
     * (0 for signed types, 128 / 8 for unsigned ones). Signed types drop their lowest value (-128 / -8) so that the
     * range stays symmetric, which keeps rounding unbiased.
     */
    public int symmetricLimit() {
        return signed() ? max : (max - min) / 2;
    }

    public int symmetricZeroPoint() {
        return signed() ? 0 : (max + 1) / 2;
    }
}
