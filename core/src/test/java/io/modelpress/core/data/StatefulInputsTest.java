package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.modelpress.core.data.InputHintsTest.VAD;
import static io.modelpress.core.data.NumpyDatasetTest.failure;
import static io.modelpress.core.data.NumpyDatasetTest.readAll;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Data for a stateful model shaped like Silero VAD: {@code input [batch, samples]}, {@code sr} (a scalar) and
 * {@code state [2, batch, 128]}. Every array is fed as given: samples along each input's batch axis, a 0-d array
 * whole with every batch, a single sample repeated for every sample.
 */
class StatefulInputsTest {
    static final int SAMPLES = 5;
    static final int LENGTH = 512;

    @TempDir
    Path dir;

    /** Audio sample s, element i = s * 1000 + i; state [2, s, k] = r * 10000 + s * 1000 + k (r the row). */
    static HostArray audio(int samples) {
        HostArray a = HostArray.zeros(DataType.FLOAT, samples, LENGTH);
        for (int s = 0; s < samples; s++) {
            for (int i = 0; i < LENGTH; i++) {
                a.set(s * LENGTH + i, s * 1000 + i);
            }
        }
        return a;
    }

    static HostArray state(int samples) {
        HostArray a = HostArray.zeros(DataType.FLOAT, 2, samples, 128);
        for (int r = 0; r < 2; r++) {
            for (int s = 0; s < samples; s++) {
                for (int k = 0; k < 128; k++) {
                    a.set((r * samples + s) * 128 + k, r * 10000 + s * 1000 + k);
                }
            }
        }
        return a;
    }

    static HostArray scalar(long value) {
        return HostArray.of(new long[] {value});
    }

    Path npz(Map<String, HostArray> arrays) {
        Path file = dir.resolve("vad.npz");
        NpyWriter.writeNpz(file, arrays, true);
        return file;
    }

    @Test
    void everyInputIsFedAsGivenWithStateSlicedAlongItsBatchAxis() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", audio(SAMPLES));
        arrays.put("sr", scalar(16000));
        arrays.put("state", state(SAMPLES));
        arrays.put("labels", HostArray.of(new long[] {0, 1, 1, 0, 1}, SAMPLES));
        try (Dataset data = Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT)) {
            List<Batch> batches = readAll(data, 2);
            assertThat(batches).extracting(Batch::size).containsExactly(2, 2, 1);
            Batch second = batches.get(1);
            assertThat(second.inputs().keySet()).containsExactly("input", "sr", "state");
            HostArray input = second.inputs().get("input");
            assertThat(input.shape()).containsExactly(2, LENGTH);
            assertThat(input.get(0)).isEqualTo(2000);
            assertThat(input.get(LENGTH + 7)).isEqualTo(3007);
            HostArray sr = second.inputs().get("sr");
            assertThat(sr.shape()).isEmpty();
            assertThat(sr.type()).isEqualTo(DataType.INT64);
            assertThat(sr.getLong(0)).isEqualTo(16000);
            HostArray state = second.inputs().get("state");
            assertThat(state.shape()).containsExactly(2, 2, 128);
            // [r, s, k] of this batch is sample 2 + s of the file
            assertThat(state.get(0)).isEqualTo(2000);
            assertThat(state.get(128 + 5)).isEqualTo(3005);
            assertThat(state.get((2 + 1) * 128 + 9)).isEqualTo(13009);
            assertThat(second.labels()).containsExactly(1, 0);
            assertThat(batches.get(2).inputs().get("state").get(128 + 1)).isEqualTo(14001);
        }
    }

    @Test
    void aSingleSampleIsRepeatedForEverySample() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", audio(SAMPLES));
        arrays.put("sr", scalar(8000));
        arrays.put("state", state(1));
        try (Dataset data = Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT)) {
            List<Batch> batches = readAll(data, 3);
            assertThat(batches).extracting(Batch::size).containsExactly(3, 2);
            HostArray state = batches.get(0).inputs().get("state");
            assertThat(state.shape()).containsExactly(2, 3, 128);
            for (int s = 0; s < 3; s++) {
                assertThat(state.get(s * 128 + 4)).isEqualTo(4);
                assertThat(state.get((3 + s) * 128 + 4)).isEqualTo(10004);
            }
        }
    }

    @Test
    void oneFeedOfEveryInputIsOneSample() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", audio(1));
        arrays.put("sr", scalar(16000));
        arrays.put("state", state(1));
        try (Dataset data = Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT)) {
            List<Batch> batches = readAll(data, 32);
            assertThat(batches).hasSize(1);
            assertThat(batches.get(0).size()).isEqualTo(1);
            assertThat(batches.get(0).inputs().get("input").shape()).containsExactly(1, LENGTH);
            assertThat(batches.get(0).inputs().get("state").shape()).containsExactly(2, 1, 128);
        }
    }

    @Test
    void inputsTheFileLacksTakeTheirValueHint() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", audio(SAMPLES));
        InputHints hints = InputHints.parse(List.of(), List.of("sr=16000", "state=0"));
        try (Dataset data = Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT.withHints(hints))) {
            Batch batch = data.next(4);
            assertThat(batch.size()).isEqualTo(4);
            assertThat(batch.inputs().get("sr").shape()).isEmpty();
            assertThat(batch.inputs().get("sr").getLong(0)).isEqualTo(16000);
            HostArray state = batch.inputs().get("state");
            assertThat(state.shape()).containsExactly(2, 4, 128);
            assertThat(state.toFloats()).containsOnly(0f);
            assertThat(data.next(4).inputs().get("state").shape()).containsExactly(2, 1, 128);
        }
        // the file wins over a hint for an input it holds
        arrays.put("sr", scalar(8000));
        try (Dataset data = Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT.withHints(hints))) {
            assertThat(data.next(4).inputs().get("sr").getLong(0)).isEqualTo(8000);
        }
    }

    @Test
    void aMissingInputNamesItsShapeAndHowToGiveIt() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", audio(SAMPLES));
        arrays.put("state", state(SAMPLES));
        ModelPressException e = failure(() -> Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("vad.npz").contains("no array for model input 'sr' []").contains("input, state")
                .contains("--value sr=V");
    }

    @Test
    void arraysThatDoNotFitNameTheInputItsShapeAndWhatWasGiven() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", audio(SAMPLES));
        arrays.put("sr", HostArray.of(new long[] {16000, 16000}, 2));
        arrays.put("state", state(SAMPLES));
        ModelPressException e = failure(() -> Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("array 'sr' in vad.npz").contains("has shape [2]").contains("model input 'sr' has shape []")
                .contains("fed whole with every batch").contains("0-d array");

        arrays.put("sr", scalar(16000));
        arrays.put("state", HostArray.zeros(DataType.FLOAT, 3, SAMPLES, 128));
        e = failure(() -> Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT));
        assertThat(e.getMessage()).contains("array 'state'").contains("[3,5,128]").contains("[2,batch,128]").contains("axis 1");

        arrays.put("state", HostArray.zeros(DataType.FLOAT, SAMPLES, 128));
        e = failure(() -> Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT));
        assertThat(e.getMessage()).contains("array 'state'").contains("[5,128]").contains("[2,batch,128]");

        arrays.put("state", state(3));
        e = failure(() -> Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT));
        assertThat(e.getMessage()).contains("array 'state' has 3 samples (axis 1 of shape [2,3,128])")
                .contains("array 'input' has 5 (shape [5,512])").contains("a single one to repeat");

        arrays.put("state", state(SAMPLES));
        arrays.put("input", HostArray.of(new float[] {1}));
        e = failure(() -> Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT));
        assertThat(e.getMessage()).contains("array 'input'").contains("0-d array").contains("[batch,samples]");
    }

    @Test
    void anEmptyFileHoldsNoSamples() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", HostArray.zeros(DataType.FLOAT, 0, LENGTH));
        arrays.put("sr", scalar(16000));
        arrays.put("state", state(1));
        try (Dataset data = Datasets.open(npz(arrays), VAD, DataOptions.DEFAULT)) {
            assertThat(data.next(4)).isNull();
        }
    }

    @Test
    void syntheticInputsFollowTheHints() {
        InputHints hints = InputHints.parse(List.of("input=1x512"), List.of("sr=16000"));
        try (Dataset data = Datasets.open(null, VAD, DataOptions.DEFAULT.withHints(hints).withLimit(10))) {
            List<Batch> batches = readAll(data, 4);
            assertThat(batches).extracting(Batch::size).containsExactly(4, 4, 2);
            Batch first = batches.get(0);
            assertThat(first.inputs().get("input").shape()).containsExactly(4, 512);
            assertThat(first.inputs().get("sr").shape()).isEmpty();
            assertThat(first.inputs().get("sr").getLong(0)).isEqualTo(16000);
            assertThat(first.inputs().get("state").shape()).containsExactly(2, 4, 128);
        }
        // without the batch entry, and a float value for an int input, the same shapes
        hints = InputHints.parse(List.of("input=512"), List.of("sr=16000.0"));
        try (Dataset data = Datasets.open(null, VAD, DataOptions.DEFAULT.withHints(hints).withLimit(3))) {
            Batch batch = data.next(8);
            assertThat(batch.inputs().get("input").shape()).containsExactly(3, 512);
            assertThat(batch.inputs().get("sr").getLong(0)).isEqualTo(16000);
        }
        // without hints, the symbolic length is a guess
        try (Dataset data = Datasets.open(null, VAD, DataOptions.DEFAULT.withLimit(3))) {
            assertThat(data.next(8).inputs().get("input").shape()).containsExactly(3, SyntheticDataset.SYMBOLIC_LENGTH);
        }
    }

    @Test
    void hintsForInputsTheModelLacksAreRefusedBeforeReading() {
        InputHints hints = InputHints.parse(List.of("audio=1x512"), List.of());
        ModelPressException e = failure(() -> Datasets.open(null, VAD, DataOptions.DEFAULT.withHints(hints)));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("'audio'").contains("input, sr, state");
    }

    @Test
    void aFailureOnSyntheticInputsSaysWhatWasGuessedAndHowToGiveIt() {
        try (Dataset data = Datasets.open(null, VAD, DataOptions.DEFAULT)) {
            ModelPressException ort = new ModelPressException(ErrorCode.RUNTIME_ERROR, "model vad.onnx",
                    "ONNX Runtime failed to run it: Pad node 'pad': Pad reflect: pre-pad (64) exceeds maximum allowed (31)");
            ModelPressException explained = data.explain(ort);
            assertThat(explained.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
            assertThat(explained.getMessage()).startsWith("model vad.onnx: ONNX Runtime failed to run it: Pad node 'pad'")
                    .contains("made up").contains("'samples' = 32").contains("--shape input=1xN").contains("--value sr=V")
                    .contains("--data").doesNotContain("state=");
            ModelPressException other = new ModelPressException(ErrorCode.DATA_MISMATCH, "x", "y");
            assertThat(data.explain(other)).isSameAs(other);
        }
        InputHints hints = InputHints.parse(List.of("input=1x64"), List.of("sr=16000"));
        try (Dataset data = Datasets.open(null, VAD, DataOptions.DEFAULT.withHints(hints))) {
            ModelPressException explained = data.explain(new ModelPressException(ErrorCode.RUNTIME_ERROR, "model m", "failed"));
            assertThat(explained.getMessage()).contains("give a data file").doesNotContain("--shape");
        }
    }

    /** The arrays as NumPy itself writes them: np.savez with a 0-d int64 and a float32 state [2, 1, 128]. */
    @Test
    void numpyWrittenStatefulDataIsRead() throws Exception {
        Python.assumeNumpy();
        Python.run(dir, """
                import numpy as np
                audio = np.arange(3 * 512, dtype=np.float32).reshape(3, 512)
                np.savez('np.npz', input=audio, sr=np.array(16000, dtype=np.int64), state=np.ones((2, 1, 128), dtype=np.float32))
                """);
        try (Dataset data = Datasets.open(dir.resolve("np.npz"), VAD, DataOptions.DEFAULT)) {
            List<Batch> batches = readAll(data, 2);
            assertThat(batches).extracting(Batch::size).containsExactly(2, 1);
            assertThat(batches.get(1).inputs().get("input").get(0)).isEqualTo(2 * 512);
            assertThat(batches.get(0).inputs().get("sr").getLong(0)).isEqualTo(16000);
            assertThat(batches.get(0).inputs().get("state").shape()).containsExactly(2, 2, 128);
            assertThat(batches.get(0).inputs().get("state").toFloats()).containsOnly(1f);
        }
    }
}
