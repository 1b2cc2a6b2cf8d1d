package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelSessionTest {
    @TempDir
    Path dir;

    @Test
    void describesInputsAndOutputsWithSymbolicDimensionsAndRunsABatch() {
        try (ModelSession session = ModelSession.open(ReferenceModels.minilm(), SessionSettings.DEFAULT.withThreads(1))) {
            assertThat(session.inputs()).extracting(ValueShape::name).containsExactly("input_ids", "attention_mask", "token_type_ids");
            ValueShape ids = session.inputs().get(0);
            assertThat(ids.type()).isEqualTo(DataType.INT64);
            assertThat(ids.dims()).extracting(ValueShape.Dim::toString).containsExactly("batch_size", "sequence_length");
            ValueShape hidden = session.outputs().get(0);
            assertThat(hidden.name()).isEqualTo("last_hidden_state");
            assertThat(hidden.type()).isEqualTo(DataType.FLOAT);
            assertThat(hidden.dims()).extracting(ValueShape.Dim::toString).containsExactly("batch_size", "sequence_length", "384");

            long[] tokens = {101, 7592, 2088, 102, 101, 2009, 102, 0};
            long[] mask = {1, 1, 1, 1, 1, 1, 1, 0};
            // int32 arrays are converted to the declared int64
            Map<String, HostArray> out = session.run(Map.of("input_ids", HostArray.of(tokens, 2, 4),
                    "attention_mask", HostArray.of(mask, 2, 4), "token_type_ids", HostArray.of(new int[8], 2, 4)));
            HostArray result = out.get("last_hidden_state");
            assertThat(result.shape()).containsExactly(2, 4, 384);
            assertThat(result.toFloats()).doesNotContain(Float.NaN);
        }
    }

    @Test
    void float16OutputsComeBackAsFloat16() throws Exception {
        float[] weights = {1, 2, -1, 0.5f, 0, 3};
        Path model = TestModels.linear(dir.resolve("half.onnx"), "x", new long[] {-1, 2}, "y", weights, new float[] {0.25f, 0, -1}, true, false);
        try (ModelSession session = ModelSession.open(model, SessionSettings.DEFAULT)) {
            assertThat(session.outputs().get(0).type()).isEqualTo(DataType.FLOAT16);
            HostArray y = session.run(Map.of("x", HostArray.of(new float[] {1, 2}, 1, 2))).get("y");
            assertThat(y.type()).isEqualTo(DataType.FLOAT16);
            float[] values = y.toFloats();
            assertThat(values[0]).isCloseTo(1 * 1 + 2 * 0.5f + 0.25f, within(1e-3f));
            assertThat(values[1]).isCloseTo(2 * 1 + 2 * 0f, within(1e-3f));
            assertThat(values[2]).isCloseTo(-1 + 2 * 3 - 1, within(1e-3f));
        }
    }

    @Test
    void failuresNameTheModelAndTheReason() throws Exception {
        Path model = TestModels.linear(dir.resolve("lin.onnx"), "x", new long[] {-1, 2}, "y", new float[] {1, 1}, new float[] {0}, false, false);
        try (ModelSession session = ModelSession.open(model, SessionSettings.DEFAULT)) {
            assertThatThrownBy(() -> session.run(Map.of("z", HostArray.of(new float[] {1, 2}, 1, 2))))
                    .isInstanceOfSatisfying(ModelPressException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
                        assertThat(e.getMessage()).contains("lin.onnx").contains("'x'");
                    });
            assertThatThrownBy(() -> session.run(Map.of("x", HostArray.of(new float[] {1, 2, 3}, 1, 3))))
                    .isInstanceOfSatisfying(ModelPressException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.RUNTIME_ERROR);
                        assertThat(e.getMessage()).contains("lin.onnx").contains("ONNX Runtime");
                    });
        }
        Path garbage = dir.resolve("garbage.onnx");
        Files.writeString(garbage, "this is not a model");
        assertThatThrownBy(() -> ModelSession.open(garbage, SessionSettings.DEFAULT))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.RUNTIME_ERROR);
                    assertThat(e.getMessage()).contains("garbage.onnx").contains("cannot load");
                });
        assertThatThrownBy(() -> ModelSession.open(dir.resolve("absent.onnx"), SessionSettings.DEFAULT))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT));
        assertThatThrownBy(() -> SessionSettings.DEFAULT.withThreads(0))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT));
    }
}
