package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class TensorsTest {
    private static final long[] FOUR = {4};

    @Test
    void float16RoundTripsAndRoundsToNearestEven() {
        float[] values = {0f, -0f, 1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 0.1f};
        for (float v : values) {
            float back = Float16.toFloat(Float16.fromFloat(v));
            assertThat(Math.abs(back - v)).as("%s", v).isLessThanOrEqualTo(Math.abs(v) / 1024 + 1e-12f);
        }
        assertThat(Float16.toFloat(Float16.fromFloat(1e6f))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Float16.toFloat(Float16.fromFloat(Float.NEGATIVE_INFINITY))).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(Float.isNaN(Float16.toFloat(Float16.fromFloat(Float.NaN)))).isTrue();
        // 1 + 2^-11 is exactly halfway between two halves: ties go to the even one (1.0)
        assertThat(Float16.toFloat(Float16.fromFloat(1f + 0x1p-11f))).isEqualTo(1f);
        assertThat(Float16.toFloat(Float16.fromFloat(1f + 3 * 0x1p-11f))).isEqualTo(1f + 0x1p-9f);
        // exhaustive: every finite half converts to float and back unchanged
        for (int h = 0; h < 0x10000; h++) {
            short half = (short) h;
            float f = Float16.toFloat(half);
            if (!Float.isNaN(f)) {
                assertThat(Float16.fromFloat(f)).as("half 0x%04x", h).isEqualTo(half);
            }
        }
        assertThat(Float16.bfloat16ToFloat(Float16.floatToBfloat16(3.140625f))).isEqualTo(3.140625f);
    }

    @Test
    void everyStorageFormDecodesToTheSameValues() {
        float[] v = {1.5f, -2f, 0f, 3.25f};
        assertThat(Tensors.toFloats(Tensors.ofFloats("a", FOUR, v), null)).containsExactly(v);
        assertThat(Tensors.toFloats(Tensors.ofFloat16("a", FOUR, v), null)).containsExactly(v);
        assertThat(Tensors.toFloats(Tensors.ofBfloat16("a", FOUR, v), null)).containsExactly(v);
        TensorProto typed = TensorProto.newBuilder().setName("t").setDataType(DataType.FLOAT.onnxId()).addDims(4)
                .addFloatData(1.5f).addFloatData(-2f).addFloatData(0f).addFloatData(3.25f).build();
        assertThat(Tensors.toFloats(typed, null)).containsExactly(v);
        TensorProto typedHalf = TensorProto.newBuilder().setName("h").setDataType(DataType.FLOAT16.onnxId()).addDims(4)
                .addInt32Data(Float16.fromFloat(1.5f) & 0xffff).addInt32Data(Float16.fromFloat(-2f) & 0xffff)
                .addInt32Data(0).addInt32Data(Float16.fromFloat(3.25f) & 0xffff).build();
        assertThat(Tensors.toFloats(typedHalf, null)).containsExactly(v);

        byte[] int8 = {-128, -1, 0, 127};
        assertThat(Tensors.toLongs(Tensors.ofBytes("i", DataType.INT8, FOUR, int8), null)).containsExactly(-128, -1, 0, 127);
        assertThat(Tensors.toLongs(Tensors.ofBytes("u", DataType.UINT8, FOUR, int8), null)).containsExactly(128, 255, 0, 127);
        TensorProto typedInt8 = TensorProto.newBuilder().setName("t8").setDataType(DataType.INT8.onnxId()).addDims(4)
                .addInt32Data(-128).addInt32Data(-1).addInt32Data(0).addInt32Data(127).build();
        assertThat(Tensors.toLongs(typedInt8, null)).containsExactly(-128, -1, 0, 127);
        assertThat(Tensors.toLongs(Tensors.ofLongs("l", FOUR, new long[] {Long.MIN_VALUE, -1, 0, 7}), null))
                .containsExactly(Long.MIN_VALUE, -1, 0, 7);
        assertThat(Tensors.toLongs(Tensors.ofInts("i32", FOUR, new int[] {-5, 0, 5, Integer.MAX_VALUE}), null))
                .containsExactly(-5, 0, 5, Integer.MAX_VALUE);
        assertThat(Tensors.toLongs(Tensors.ofBools("b", FOUR, new boolean[] {true, false, true, true}), null))
                .containsExactly(1, 0, 1, 1);
    }

    @Test
    void fourBitValuesPackLowNibbleFirst() {
        byte[] values = {-8, 7, -1, 0, 3};
        TensorProto int4 = Tensors.ofNibbles("q", DataType.INT4, new long[] {5}, values);
        assertThat(int4.getRawData().size()).isEqualTo(3);
        assertThat(int4.getRawData().byteAt(0) & 0xff).isEqualTo(0x78);
        assertThat(Tensors.toLongs(int4, null)).containsExactly(-8, 7, -1, 0, 3);
        TensorProto uint4 = Tensors.ofNibbles("u", DataType.UINT4, new long[] {5}, new byte[] {15, 0, 1, 8, 9});
        assertThat(Tensors.toLongs(uint4, null)).containsExactly(15, 0, 1, 8, 9);
    }

    @Test
    void buildersRefuseDataThatDoesNotMatchTheShape() {
        ModelPressException e = catchThrowableOfType(ModelPressException.class,
                () -> Tensors.ofFloats("w", new long[] {3, 3}, new float[8]));
        assertThat(e.code()).isEqualTo(ErrorCode.TENSOR_SHAPE_MISMATCH);
        assertThat(e.getMessage()).contains("'w'").contains("[3, 3]");
    }
}
