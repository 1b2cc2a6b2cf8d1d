package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

/** ONNX tensor element types with their storage width, in bits (4-bit types pack two elements per byte). */
public enum DataType {
    FLOAT(1, 32), UINT8(2, 8), INT8(3, 8), UINT16(4, 16), INT16(5, 16), INT32(6, 32), INT64(7, 64),
    STRING(8, 0), BOOL(9, 8), FLOAT16(10, 16), DOUBLE(11, 64), UINT32(12, 32), UINT64(13, 64),
    COMPLEX64(14, 64), COMPLEX128(15, 128), BFLOAT16(16, 16),
    FLOAT8E4M3FN(17, 8), FLOAT8E4M3FNUZ(18, 8), FLOAT8E5M2(19, 8), FLOAT8E5M2FNUZ(20, 8),
    UINT4(21, 4), INT4(22, 4);

    private final int onnxId;
    private final int bits;

    DataType(int onnxId, int bits) {
        this.onnxId = onnxId;
        this.bits = bits;
    }

    public int onnxId() {
        return onnxId;
    }

    public int bits() {
        return bits;
    }

    /** True for types whose values are real numbers stored as floats (fp32/16/64, bf16, fp8). */
    public boolean isFloatingPoint() {
        return switch (this) {
            case FLOAT, FLOAT16, DOUBLE, BFLOAT16, FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ -> true;
            default -> false;
        };
    }

    /** Bytes needed for {@code elements} values of this type; -1 for strings (variable length). */
    public long byteSize(long elements) {
        if (bits == 0) {
            return -1;
        }
        return bits % 8 == 0 ? Math.multiplyExact(elements, bits / 8) : (Math.multiplyExact(elements, bits) + 7) / 8;
    }

    public static DataType fromOnnx(int id) {
        for (DataType t : values()) {
            if (t.onnxId == id) {
                return t;
            }
        }
        throw new ModelPressException(ErrorCode.NOT_ONNX, "unknown tensor element type " + id);
    }

    public static DataType of(TensorProto tensor) {
        return fromOnnx(tensor.getDataType());
    }

    public String displayName() {
        return name().toLowerCase();
    }
}
