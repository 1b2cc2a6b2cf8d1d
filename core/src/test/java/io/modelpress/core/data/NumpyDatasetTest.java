package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NumpyDatasetTest {
    @TempDir
    Path dir;

    /** A model input; -1 marks a symbolic dimension. */
    static ValueShape input(String name, DataType type, long... dims) {
        List<ValueShape.Dim> list = new ArrayList<>();
        for (long d : dims) {
            list.add(d >= 0 ? new ValueShape.Dim(d, null) : new ValueShape.Dim(-1, "N"));
        }
        return new ValueShape(name, type, List.copyOf(list), true);
    }

    static List<Batch> readAll(Dataset data, int batch) {
        List<Batch> batches = new ArrayList<>();
        for (Batch b = data.next(batch); b != null; b = data.next(batch)) {
            batches.add(b);
        }
        return batches;
    }

    static float[] floats(int n, float scale) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = i * scale;
        }
        return values;
    }

    static ModelPressException failure(Runnable action) {
        try {
            action.run();
        } catch (ModelPressException e) {
            return e;
        }
        throw new AssertionError("expected a ModelPressException");
    }

    @Test
    void npyStreamsInBatchesWithExactValues() {
        Path file = dir.resolve("x.npy");
        NpyWriter.writeNpy(file, HostArray.of(floats(30, 0.5f), 10, 3));
        assertThat(Datasets.formatOf(file)).isEqualTo(Datasets.Format.NPY);
        try (Dataset data = Datasets.open(file, List.of(input("x", DataType.FLOAT, -1, 3)), DataOptions.DEFAULT)) {
            assertThat(data.hasLabels()).isFalse();
            List<Batch> batches = readAll(data, 4);
            assertThat(batches).extracting(Batch::size).containsExactly(4, 4, 2);
            HostArray last = batches.get(2).inputs().get("x");
            assertThat(last.shape()).containsExactly(2, 3);
            assertThat(last.toFloats()).containsExactly(12f, 12.5f, 13f, 13.5f, 14f, 14.5f);
            assertThat(batches.get(0).labels()).isNull();
            assertThat(data.next(4)).isNull();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void npzFeedsEachInputByNameConvertsTypesAndReadsLabels(boolean compressed) {
        Path file = dir.resolve("d.npz");
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("ids", HostArray.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 6, 2));
        HostArray doubles = HostArray.zeros(DataType.DOUBLE, 6, 2, 2);
        for (int i = 0; i < 24; i++) {
            doubles.set(i, i / 4.0);
        }
        arrays.put("features", doubles);
        arrays.put("labels", HostArray.of(new long[] {0, 1, 2, 0, 1, 2}, 6));
        arrays.put("notes_for_humans", HostArray.of(new float[] {1}, 1));
        NpyWriter.writeNpz(file, arrays, compressed);
        assertThat(Datasets.formatOf(file)).isEqualTo(Datasets.Format.NPZ);

        List<ValueShape> inputs = List.of(input("features", DataType.FLOAT, -1, 2, 2), input("ids", DataType.INT64, -1, 2));
        try (Dataset data = Datasets.open(file, inputs, DataOptions.DEFAULT)) {
            assertThat(data.hasLabels()).isTrue();
            List<Batch> batches = readAll(data, 4);
            assertThat(batches).extracting(Batch::size).containsExactly(4, 2);
            Batch second = batches.get(1);
            assertThat(second.inputs().keySet()).containsExactly("features", "ids");
            assertThat(second.inputs().get("ids").type()).isEqualTo(DataType.INT64);
            assertThat(second.inputs().get("ids").getLong(3)).isEqualTo(12);
            assertThat(second.inputs().get("features").type()).isEqualTo(DataType.FLOAT);
            assertThat(second.inputs().get("features").toFloats()).containsExactly(4f, 4.25f, 4.5f, 4.75f, 5f, 5.25f, 5.5f, 5.75f);
            assertThat(second.labels()).containsExactly(1, 2);
        }
    }

    @Test
    void limitStopsAfterThatManySamples() {
        Path file = dir.resolve("x.npy");
        NpyWriter.writeNpy(file, HostArray.of(floats(30, 1), 10, 3));
        try (Dataset data = Datasets.open(file, List.of(input("x", DataType.FLOAT, -1, 3)), DataOptions.DEFAULT.withLimit(5))) {
            assertThat(readAll(data, 4)).extracting(Batch::size).containsExactly(4, 1);
        }
    }

    @Test
    void numpyWrittenFilesOfEveryDtypeConvertToTheModelType() throws Exception {
        Python.assumeNumpy();
        Python.run(dir, """
                import numpy as np
                base = np.arange(12).reshape(4, 3) % 7
                for dt in ['<f4', '<f8', '<f2', '<i8', '<i4', '|i1', '|u1', '>f4', '>i8']:
                    np.save(dt.replace('<', 'le_').replace('>', 'be_').replace('|', 'b_') + '.npy', base.astype(dt))
                np.save('bool.npy', base % 2 == 1)
                """);
        float[] expected = new float[12];
        for (int i = 0; i < 12; i++) {
            expected[i] = i % 7;
        }
        for (String name : List.of("le_f4", "le_f8", "le_f2", "le_i8", "le_i4", "b_i1", "b_u1", "be_f4", "be_i8")) {
            for (DataType type : List.of(DataType.FLOAT, DataType.INT64, DataType.FLOAT16, DataType.INT32, DataType.DOUBLE)) {
                try (Dataset data = Datasets.open(dir.resolve(name + ".npy"), List.of(input("x", type, -1, 3)), DataOptions.DEFAULT)) {
                    HostArray x = data.next(10).inputs().get("x");
                    assertThat(x.type()).isEqualTo(type);
                    assertThat(x.shape()).containsExactly(4, 3);
                    assertThat(x.toFloats()).as(name + " as " + type).containsExactly(expected);
                }
            }
        }
        try (Dataset data = Datasets.open(dir.resolve("bool.npy"), List.of(input("x", DataType.FLOAT, -1, 3)), DataOptions.DEFAULT)) {
            float[] bools = data.next(10).inputs().get("x").toFloats();
            for (int i = 0; i < 12; i++) {
                assertThat(bools[i]).isEqualTo((i % 7) % 2 == 1 ? 1f : 0f);
            }
        }
    }

    @Test
    void numpySavezAndSavezCompressedAreRead() throws Exception {
        Python.assumeNumpy();
        Python.run(dir, """
                import numpy as np
                ids = np.arange(20, dtype=np.int64).reshape(5, 4)
                mask = np.ones((5, 4), dtype=np.int64); mask[:, 3] = 0
                labels = np.array([1, 0, 1, 1, 0], dtype=np.int32)
                np.savez('plain.npz', input_ids=ids, attention_mask=mask, labels=labels)
                np.savez_compressed('packed.npz', input_ids=ids, attention_mask=mask, labels=labels)
                np.savez('positional.npz', np.linspace(0, 1, 10, dtype=np.float32).reshape(5, 2))
                """);
        List<ValueShape> inputs = List.of(input("input_ids", DataType.INT64, -1, -1), input("attention_mask", DataType.INT64, -1, -1));
        for (String name : List.of("plain.npz", "packed.npz")) {
            try (Dataset data = Datasets.open(dir.resolve(name), inputs, DataOptions.DEFAULT)) {
                Batch batch = data.next(3);
                assertThat(batch.inputs().get("input_ids").getLong(11)).isEqualTo(11);
                assertThat(batch.attentionMask()).as("the mask input doubles as the pooling mask").isNotNull();
                assertThat(batch.attentionMask().getLong(3)).isZero();
                assertThat(batch.labels()).containsExactly(1, 0, 1);
                assertThat(data.next(3).labels()).containsExactly(1, 0);
            }
        }
        // a model without a mask input still gets the mask for pooling
        try (Dataset data = Datasets.open(dir.resolve("packed.npz"), List.of(input("input_ids", DataType.INT64, -1, 4)), DataOptions.DEFAULT)) {
            Batch batch = data.next(5);
            assertThat(batch.inputs()).containsOnlyKeys("input_ids");
            assertThat(batch.attentionMask().shape()).containsExactly(5, 4);
        }
        // np.savez(f, x) names the array arr_0: a single-input model takes it whatever its name
        try (Dataset data = Datasets.open(dir.resolve("positional.npz"), List.of(input("pixels", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT)) {
            assertThat(data.next(10).inputs().get("pixels").toFloats()[9]).isEqualTo(1f);
        }
    }

    @Test
    void fortranOrderIsRefusedClearly() throws Exception {
        Path javaWritten = dir.resolve("f.npy");
        byte[] header = NpyWriter.header("<f4", new long[] {2, 2}).clone();
        String text = new String(header, java.nio.charset.StandardCharsets.ISO_8859_1).replace("'fortran_order': False", "'fortran_order': True ");
        Files.write(javaWritten, concat(text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), new byte[16]));
        ModelPressException e = failure(() -> Datasets.open(javaWritten, List.of(input("x", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("f.npy").contains("Fortran");

        Python.assumeNumpy();
        Python.run(dir, "import numpy as np\nnp.save('fortran.npy', np.asfortranarray(np.ones((3, 2), dtype=np.float32)))\n");
        e = failure(() -> Datasets.open(dir.resolve("fortran.npy"), List.of(input("x", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("Fortran");
    }

    @Test
    void missingInputArrayNamesTheInputAndTheArraysPresent() {
        Path file = dir.resolve("d.npz");
        NpyWriter.writeNpz(file, Map.of("input_ids", HostArray.of(new long[] {1, 2}, 1, 2)), true);
        List<ValueShape> inputs = List.of(input("input_ids", DataType.INT64, -1, -1), input("token_type_ids", DataType.INT64, -1, -1));
        ModelPressException e = failure(() -> Datasets.open(file, inputs, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("token_type_ids").contains("input_ids").contains("d.npz");
    }

    @Test
    void wrongSampleShapeNamesExpectedAndFound() {
        Path file = dir.resolve("d.npz");
        NpyWriter.writeNpz(file, Map.of("pixels", HostArray.of(floats(2 * 3 * 5, 1), 2, 3, 5)), false);
        ModelPressException e = failure(() -> Datasets.open(file, List.of(input("pixels", DataType.FLOAT, -1, 3, 4)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("'pixels'").contains("[3,5]").contains("[3,4]");

        Path npy = dir.resolve("x.npy");
        NpyWriter.writeNpy(npy, HostArray.of(floats(12, 1), 4, 3));
        e = failure(() -> Datasets.open(npy, List.of(input("x", DataType.FLOAT, -1, 1, 3)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("[3]").contains("[1,3]");
    }

    @Test
    void differentSampleCountsAreAMismatch() {
        Path file = dir.resolve("d.npz");
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("a", HostArray.of(floats(6, 1), 3, 2));
        arrays.put("b", HostArray.of(floats(8, 1), 4, 2));
        NpyWriter.writeNpz(file, arrays, true);
        ModelPressException e = failure(() -> Datasets.open(file,
                List.of(input("a", DataType.FLOAT, -1, 2), input("b", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("'a'").contains("'b'").contains("3").contains("4");

        arrays.put("b", HostArray.of(floats(6, 1), 3, 2));
        arrays.put("labels", HostArray.of(new long[] {1, 2}, 2));
        NpyWriter.writeNpz(file, arrays, true);
        e = failure(() -> Datasets.open(file, List.of(input("a", DataType.FLOAT, -1, 2), input("b", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("labels");
    }

    @Test
    void npyForAModelWithSeveralInputsIsAMismatch() {
        Path npy = dir.resolve("x.npy");
        NpyWriter.writeNpy(npy, HostArray.of(floats(4, 1), 2, 2));
        ModelPressException e = failure(() -> Datasets.open(npy,
                List.of(input("a", DataType.FLOAT, -1, 2), input("b", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains(".npz").contains("a, b");
    }

    @Test
    void truncatedDataFailsWhenReachedAndNamesTheSample() throws Exception {
        Path file = dir.resolve("x.npy");
        NpyWriter.writeNpy(file, HostArray.of(floats(30, 1), 10, 3));
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 20));
        try (Dataset data = Datasets.open(file, List.of(input("x", DataType.FLOAT, -1, 3)), DataOptions.DEFAULT)) {
            assertThat(data.next(4).size()).isEqualTo(4);
            ModelPressException e = failure(() -> readAll(data, 4));
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
            assertThat(e.getMessage()).contains("x.npy").contains("truncated").contains("10 samples").contains("after 8");
        }
        Files.write(file, java.util.Arrays.copyOf(bytes, 30));
        ModelPressException e = failure(() -> Datasets.open(file, List.of(input("x", DataType.FLOAT, -1, 3)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("header");
    }

    @Test
    void malformedFilesAreBadData() throws Exception {
        List<ValueShape> inputs = List.of(input("x", DataType.FLOAT, -1, 2));
        Path dtype = dir.resolve("strings.npy");
        Files.write(dtype, concat(NpyWriter.header("<U5", new long[] {2, 2}), new byte[80]));
        ModelPressException e = failure(() -> Datasets.open(dtype, inputs, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("'<U5'").contains("<f4");

        Path complex = dir.resolve("complex.npy");
        Files.write(complex, concat(NpyWriter.header("<c8", new long[] {2, 2}), new byte[32]));
        assertThat(failure(() -> Datasets.open(complex, inputs, DataOptions.DEFAULT)).code()).isEqualTo(ErrorCode.BAD_DATA);

        Path noShape = dir.resolve("noshape.npy");
        byte[] header = NpyWriter.header("<f4", new long[] {2, 2});
        String broken = new String(header, java.nio.charset.StandardCharsets.ISO_8859_1).replace("'shape'", "'shapf'");
        Files.write(noShape, broken.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        e = failure(() -> Datasets.open(noShape, inputs, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("shape");

        Path version = dir.resolve("v9.npy");
        byte[] v9 = NpyWriter.header("<f4", new long[] {2, 2}).clone();
        v9[6] = 9;
        Files.write(version, v9);
        assertThat(failure(() -> Datasets.open(version, inputs, DataOptions.DEFAULT)).getMessage()).contains("version 9");

        Path zip = dir.resolve("broken.npz");
        Files.write(zip, concat("PK\u0003\u0004".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), new byte[100]));
        e = failure(() -> Datasets.open(zip, inputs, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("broken.npz");

        Path random = dir.resolve("random.bin");
        Files.write(random, new byte[] {7, 1, 2, 3, 4, 5, 6});
        e = failure(() -> Datasets.open(random, inputs, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("not a recognised data file");

        Path empty = dir.resolve("empty.npy");
        Files.write(empty, new byte[0]);
        assertThat(failure(() -> Datasets.open(empty, inputs, DataOptions.DEFAULT)).code()).isEqualTo(ErrorCode.BAD_DATA);

        assertThat(failure(() -> Datasets.open(dir.resolve("absent.npy"), inputs, DataOptions.DEFAULT)).code())
                .isEqualTo(ErrorCode.BAD_ARGUMENT);
    }

    @Test
    void labelsMustBeOneIntegerPerSample() {
        Path file = dir.resolve("d.npz");
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("x", HostArray.of(floats(4, 1), 2, 2));
        arrays.put("labels", HostArray.of(new float[] {1f, 0.5f}, 2));
        NpyWriter.writeNpz(file, arrays, false);
        try (Dataset data = Datasets.open(file, List.of(input("x", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT)) {
            ModelPressException e = failure(() -> data.next(2));
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
            assertThat(e.getMessage()).contains("labels").contains("0.5").contains("sample 1");
        }
        arrays.put("labels", HostArray.of(new long[] {1, 0, 1, 0}, 2, 2));
        NpyWriter.writeNpz(file, arrays, false);
        ModelPressException e = failure(() -> Datasets.open(file, List.of(input("x", DataType.FLOAT, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("labels").contains("[2,2]");
    }

    @Test
    void stringInputsCannotBeFedFromArrays() {
        Path npy = dir.resolve("x.npy");
        NpyWriter.writeNpy(npy, HostArray.of(floats(4, 1), 2, 2));
        ModelPressException e = failure(() -> Datasets.open(npy, List.of(input("text", DataType.STRING, -1, 2)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("'text'").contains("string");
    }

    @Test
    void javaWrittenFilesAreReadByNumpy() throws Exception {
        Python.assumeNumpy();
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("a", HostArray.of(floats(6, 0.25f), 2, 3));
        arrays.put("labels", HostArray.of(new long[] {4, 5}, 2));
        NpyWriter.writeNpz(dir.resolve("j.npz"), arrays, true);
        NpyWriter.writeNpy(dir.resolve("j.npy"), HostArray.of(new int[] {1, -2, 3}, 3));
        String out = Python.run(dir, """
                import numpy as np
                z = np.load('j.npz')
                assert z['a'].dtype == np.float32 and z['a'].shape == (2, 3) and z['a'][1, 2] == 1.25
                assert list(z['labels']) == [4, 5]
                a = np.load('j.npy')
                assert a.dtype == np.int32 and list(a) == [1, -2, 3]
                print('ok')
                """);
        assertThat(out.trim()).isEqualTo("ok");
    }

    static byte[] concat(byte[] a, byte[] b) {
        return ByteBuffer.allocate(a.length + b.length).order(ByteOrder.LITTLE_ENDIAN).put(a).put(b).array();
    }
}
