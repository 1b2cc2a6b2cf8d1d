package io.modelpress.core.data;

import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

/** Where the samples run in each input (and output), the rule data files, synthetic inputs and the evaluator share. */
class BatchAxesTest {
    /** A value; a dim is fixed when it is a Long, symbolic when a String, and unnamed-unknown when null. */
    static ValueShape named(String name, DataType type, Object... dims) {
        List<ValueShape.Dim> list = new ArrayList<>();
        for (Object d : dims) {
            list.add(d instanceof Long n ? new ValueShape.Dim(n, null) : new ValueShape.Dim(-1, (String) d));
        }
        return new ValueShape(name, type, List.copyOf(list), true);
    }

    @Test
    void aRecurrentStateBatchesAlongItsNamedAxis() {
        List<ValueShape> vad = InputHintsTest.VAD;
        assertThat(BatchAxes.of(vad)).containsExactly(entry("input", 0), entry("sr", BatchAxes.NONE), entry("state", 1));
        assertThat(BatchAxes.fixedBatch(vad)).isEqualTo(-1);
        List<ValueShape> outputs = List.of(named("output", DataType.FLOAT, "batch", 1L), named("stateN", DataType.FLOAT, 2L, "batch", 128L));
        assertThat(BatchAxes.ofOutputs(vad, outputs)).containsExactly(entry("output", 0), entry("stateN", 1));
    }

    @Test
    void unnamedDimensionsMatchUnnamedOnes() {
        // as exported without dimension names: input [?,?], state [2,?,128]
        List<ValueShape> inputs = List.of(named("input", DataType.FLOAT, null, null), new ValueShape("sr", DataType.INT64, List.of(), true),
                named("state", DataType.FLOAT, 2L, null, 128L));
        assertThat(BatchAxes.of(inputs)).containsExactly(entry("input", 0), entry("sr", BatchAxes.NONE), entry("state", 1));
        assertThat(BatchAxes.ofOutputs(inputs, List.of(named("stateN", DataType.FLOAT, 2L, null, 128L)))).containsExactly(entry("stateN", 1));
    }

    @Test
    void anInputWithoutTheBatchNameIsFedWhole() {
        List<ValueShape> inputs = List.of(named("ids", DataType.INT64, "batch", "seq"), named("table", DataType.FLOAT, 4L, "seq"),
                named("bias", DataType.FLOAT, 3L, 3L));
        assertThat(BatchAxes.of(inputs)).containsExactly(entry("ids", 0), entry("table", BatchAxes.NONE), entry("bias", BatchAxes.NONE));
    }

    @Test
    void aModelThatFixesItsBatchBatchesAlongAxisZero() {
        List<ValueShape> inputs = List.of(named("image", DataType.FLOAT, 1L, 3L, 8L, 8L), named("scale", DataType.FLOAT, 1L, 1L),
                new ValueShape("flag", DataType.BOOL, List.of(), true));
        Map<String, Integer> axes = BatchAxes.of(inputs);
        assertThat(axes).containsExactly(entry("image", 0), entry("scale", 0), entry("flag", BatchAxes.NONE));
        assertThat(BatchAxes.fixedBatch(inputs)).isEqualTo(1);
        // a fixed first dimension elsewhere does not fix the batch of a model whose batch is open
        assertThat(BatchAxes.fixedBatch(InputHintsTest.VAD)).isEqualTo(-1);
    }

    @Test
    void unknownRankBatchesAlongAxisZeroAndOutputsDefaultToIt() {
        ValueShape unknown = new ValueShape("x", DataType.FLOAT, List.of(), false);
        assertThat(BatchAxes.of(List.of(unknown))).containsExactly(entry("x", 0));
        assertThat(BatchAxes.ofOutputs(List.of(unknown), List.of(named("y", DataType.FLOAT, 2L, "batch")))).containsExactly(entry("y", 0));
    }
}
