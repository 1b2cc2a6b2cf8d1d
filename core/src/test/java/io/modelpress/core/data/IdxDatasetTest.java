package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static io.modelpress.core.data.NumpyDatasetTest.failure;
import static io.modelpress.core.data.NumpyDatasetTest.input;
import static io.modelpress.core.data.NumpyDatasetTest.readAll;
import static org.assertj.core.api.Assertions.assertThat;

class IdxDatasetTest {
    static final int H = 6;
    static final int W = 5;
    static final int COUNT = 7;

    @TempDir
    Path dir;

    /** Image i has pixel p = (i * 31 + p) % 256; label i = i % 4. */
    static int pixel(int image, int p) {
        return (image * 31 + p) % 256;
    }

    /** Writes an IDX file; {@code dims[0]} records of the remaining dims, values from {@code value(record, index)}. */
    static Path writeIdx(Path file, int[] dims, java.util.function.IntBinaryOperator value) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0x0800 | dims.length);
        int recordSize = 1;
        for (int i = 0; i < dims.length; i++) {
            out.writeInt(dims[i]);
            recordSize *= i > 0 ? dims[i] : 1;
        }
        for (int r = 0; r < dims[0]; r++) {
            for (int i = 0; i < recordSize; i++) {
                out.writeByte(value.applyAsInt(r, i));
            }
        }
        try (OutputStream file1 = Files.newOutputStream(file);
             OutputStream sink = file.toString().endsWith(".gz") ? new GZIPOutputStream(file1) : file1) {
            sink.write(bytes.toByteArray());
        }
        return file;
    }

    Path imagesAndLabels(String prefix, boolean gzip) throws IOException {
        String gz = gzip ? ".gz" : "";
        writeIdx(dir.resolve(prefix + "-labels-idx1-ubyte" + gz), new int[] {COUNT}, (r, i) -> r % 4);
        return writeIdx(dir.resolve(prefix + "-images-idx3-ubyte" + gz), new int[] {COUNT, H, W}, IdxDatasetTest::pixel);
    }

    @Test
    void imagesAreScaledShapedForTheInputAndLabelledFromTheFileBeside() throws IOException {
        Path images = imagesAndLabels("t10k", true);
        assertThat(Datasets.formatOf(images)).isEqualTo(Datasets.Format.IDX);
        List<long[]> inputShapes = List.of(new long[] {-1, 1, H, W}, new long[] {-1, H, W, 1}, new long[] {-1, H * W},
                new long[] {-1, H, W}, new long[] {-1, -1, -1, -1}, new long[] {-1, -1, -1, 1});
        List<long[]> expectedSamples = List.of(new long[] {1, H, W}, new long[] {H, W, 1}, new long[] {H * W},
                new long[] {H, W}, new long[] {1, H, W}, new long[] {H, W, 1});
        for (int k = 0; k < inputShapes.size(); k++) {
            try (Dataset data = Datasets.open(images, List.of(input("image", DataType.FLOAT, inputShapes.get(k))), DataOptions.DEFAULT)) {
                assertThat(data.hasLabels()).isTrue();
                List<Batch> batches = readAll(data, 3);
                assertThat(batches).extracting(Batch::size).containsExactly(3, 3, 1);
                HostArray last = batches.get(2).inputs().get("image");
                long[] expected = new long[expectedSamples.get(k).length + 1];
                expected[0] = 1;
                System.arraycopy(expectedSamples.get(k), 0, expected, 1, expected.length - 1);
                assertThat(last.shape()).containsExactly(expected);
                for (int p = 0; p < H * W; p++) {
                    assertThat(last.get(p)).isCloseTo(pixel(6, p) / 255.0, org.assertj.core.api.Assertions.within(1e-6));
                }
                assertThat(batches.get(1).labels()).containsExactly(3, 0, 1);
            }
        }
    }

    @Test
    void plainFilesUint8InputsAndFoldersWithASplit() throws IOException {
        imagesAndLabels("train", false);
        writeIdx(dir.resolve("t10k-images-idx3-ubyte"), new int[] {2, H, W}, (r, i) -> 200);
        try (Dataset data = Datasets.open(dir, List.of(input("x", DataType.UINT8, -1, H, W)), DataOptions.DEFAULT.withSplit("train"))) {
            Batch batch = data.next(100);
            assertThat(batch.size()).isEqualTo(COUNT);
            assertThat(batch.inputs().get("x").get(H * W + 1)).as("raw pixel").isEqualTo(pixel(1, 1));
            assertThat(batch.labels()).containsExactly(0, 1, 2, 3, 0, 1, 2);
        }
        try (Dataset data = Datasets.open(dir, List.of(input("x", DataType.FLOAT, -1, H * W)), DataOptions.DEFAULT)) {
            assertThat(data.hasLabels()).as("the test split has no labels file").isFalse();
            Batch batch = data.next(100);
            assertThat(batch.size()).isEqualTo(2);
            assertThat(batch.labels()).isNull();
            assertThat(batch.inputs().get("x").get(0)).isCloseTo(200 / 255.0, org.assertj.core.api.Assertions.within(1e-6));
        }
    }

    @Test
    void mismatchesAreReported() throws IOException {
        Path images = imagesAndLabels("t10k", true);
        ModelPressException e = failure(() -> Datasets.open(images, List.of(input("image", DataType.FLOAT, -1, 1, 28, 28)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("[6,5]").contains("'image'").contains("28");

        e = failure(() -> Datasets.open(images, List.of(input("a", DataType.FLOAT, -1, H * W), input("b", DataType.FLOAT, -1, 1)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);

        writeIdx(dir.resolve("t10k-labels-idx1-ubyte.gz"), new int[] {COUNT - 1}, (r, i) -> 1);
        e = failure(() -> Datasets.open(images, List.of(input("image", DataType.FLOAT, -1, H * W)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("6 labels").contains("7 images");

        e = failure(() -> Datasets.open(dir.resolve("t10k-labels-idx1-ubyte.gz"), List.of(input("image", DataType.FLOAT, -1, H * W)), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("images file");

        e = failure(() -> Datasets.open(dir, List.of(input("image", DataType.FLOAT, -1, H * W)), DataOptions.DEFAULT.withSplit("train")));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("train-images");
    }

    @Test
    void truncatedImagesAreBadData() throws IOException {
        Path images = imagesAndLabels("t10k", false);
        byte[] bytes = Files.readAllBytes(images);
        Files.write(images, java.util.Arrays.copyOf(bytes, bytes.length - 10));
        try (Dataset data = Datasets.open(images, List.of(input("image", DataType.FLOAT, -1, H * W)), DataOptions.DEFAULT)) {
            ModelPressException e = failure(() -> readAll(data, 4));
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
            assertThat(e.getMessage()).contains("truncated");
        }
    }

    @Test
    void gzipThatIsNotIdxIsBadData() throws IOException {
        Path file = dir.resolve("notes.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            out.write("hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        ValueShape in = input("image", DataType.FLOAT, -1, 4);
        ModelPressException e = failure(() -> Datasets.open(file, List.of(in), DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("IDX");
    }
}
