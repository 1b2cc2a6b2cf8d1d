package io.modelpress.core.onnx;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OnnxProbeTest {
    private static final Path ONNX_TEST_DATA = Path.of("/usr/share/libonnx-testdata/data");

    private static void probe(byte[] file) {
        OnnxProbe.check(Arrays.copyOf(file, Math.min(file.length, OnnxProbe.PREFIX_BYTES)), file.length, "model.onnx");
    }

    @Test
    void acceptsRealModels() {
        assertThatCode(() -> probe(SmallModels.mlp(16, 32, 4, false, 1).toByteArray())).doesNotThrowAnyException();
        assertThatCode(() -> probe(SmallModels.mlp(16, 32, 4, true, 2).toByteArray())).doesNotThrowAnyException();
        assertThatCode(() -> probe(SmallModels.withIf(8, 3).toByteArray())).doesNotThrowAnyException();
        // larger than the examined prefix: fields beyond it are not read
        assertThatCode(() -> probe(SmallModels.mlp(256, 512, 16, false, 4).toByteArray())).doesNotThrowAnyException();
    }

    static boolean onnxTestDataPresent() {
        return Files.isDirectory(ONNX_TEST_DATA);
    }

    @Test
    @EnabledIf("onnxTestDataPresent")
    void acceptsEveryModelOfTheOnnxConformanceSuite() throws IOException {
        List<Path> models;
        try (var files = Files.walk(ONNX_TEST_DATA)) {
            models = files.filter(p -> p.getFileName().toString().equals("model.onnx")).toList();
        }
        assertThat(models).hasSizeGreaterThan(100);
        for (Path model : models) {
            byte[] bytes = Files.readAllBytes(model);
            assertThatCode(() -> probe(bytes)).as(model.toString()).doesNotThrowAnyException();
        }
    }

    @Test
    void rejectsTextJsonZipAndNumpyWithAHint() throws IOException {
        assertNotOnnx("hello, this is not a model\n".getBytes(StandardCharsets.UTF_8), "plain text");
        assertNotOnnx("{\"weights\": [1, 2, 3]}".getBytes(StandardCharsets.UTF_8), "looks like JSON");
        assertNotOnnx(zip(), "zip archive");
        byte[] npy = new byte[128];
        byte[] header = "\u0093NUMPY\u0001\u0000v\u0000{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
                .getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(header, 0, npy, 0, header.length);
        assertNotOnnx(npy, "NumPy");
    }

    @Test
    void rejectsEmptyAndTruncatedFiles() {
        assertThatThrownBy(() -> OnnxProbe.check(new byte[0], 0, "model.onnx"))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.EMPTY_FILE))
                .hasMessageContaining("model.onnx: is empty");
        byte[] model = SmallModels.mlp(4, 4, 2, false, 5).toByteArray();
        byte[] truncated = Arrays.copyOf(model, model.length / 2);
        assertNotOnnx(truncated, "claims");
    }

    @Test
    void rejectsHostileWireFormatNamingWhatIsWrong() {
        byte[] irVersion = {0x08, 0x08}; // field 1 (ir_version), varint 8
        // ModelProto's first field with another wire type than its own
        assertNotOnnx(new byte[] {0x0A, 0x01, 0x00}, "does not start like an ONNX ModelProto");
        // a field number ModelProto does not have, first
        assertNotOnnx(new byte[] {(byte) 0xF8, 0x01, 0x01}, "does not start like an ONNX ModelProto");
        // graph (field 7) as a varint
        assertNotOnnx(concat(irVersion, new byte[] {0x38, 0x01}), "field 7 at offset 2 has the wrong wire type");
        // graph claiming 2^62 bytes: refused without allocating anything
        assertNotOnnx(concat(irVersion, new byte[] {0x3A, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80,
                (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x40}), "claims 4611686018427387904 bytes");
        // a varint of more than 10 bytes, and a group (wire types ONNX never writes)
        byte[] endless = new byte[16];
        Arrays.fill(endless, (byte) 0xFF);
        assertNotOnnx(concat(irVersion, new byte[] {0x28}, endless), "are not a protobuf field");
        assertNotOnnx(concat(irVersion, new byte[] {0x6B}), "the bytes at offset 2 are not a protobuf field");
        // a whole file that ends inside a varint
        assertNotOnnx(concat(irVersion, new byte[] {0x28, (byte) 0x80}), "the file ends inside a field");
    }

    @Test
    void acceptsFieldsCutOffByTheEndOfThePrefix() {
        byte[] irVersion = {0x08, 0x08};
        long size = 1L << 20;
        // an unknown fixed64 field (9), a varint and a tag cut off by the examined prefix: the file goes on beyond it
        assertThatCode(() -> OnnxProbe.check(concat(irVersion, new byte[] {0x49, 1, 2, 3}), size, "model.onnx"))
                .doesNotThrowAnyException();
        assertThatCode(() -> OnnxProbe.check(concat(irVersion, new byte[] {0x28, (byte) 0x80}), size, "model.onnx"))
                .doesNotThrowAnyException();
        assertThatCode(() -> OnnxProbe.check(concat(irVersion, new byte[] {(byte) 0xF8}), size, "model.onnx"))
                .doesNotThrowAnyException();
        // the same bytes as a whole file are cut
        assertNotOnnx(concat(irVersion, new byte[] {0x49, 1, 2, 3}), "field 9 at offset 2 claims 8 bytes but the file has only 6");
    }

    @Test
    void readsOnlyThePrefixOfAFileLargerThanAnArrayCanHold(@TempDir Path dir) throws IOException {
        // a model header whose graph field runs to the end of a sparse 3 GB file: reading the whole file into memory
        // would fail, reading the prefix does not
        long size = 3L << 30;
        // ir_version 8, then the graph (field 7) with the length that takes it to the end of the file
        byte[] header = concat(new byte[] {0x08, 0x08, 0x3A}, varint(size - 3 - varint(size).length));
        Path file = dir.resolve("large.onnx");
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.write(header);
            out.setLength(size);
        }
        assertThat(Files.size(file)).isEqualTo(size);

        assertThatCode(() -> OnnxProbe.check(file, "large.onnx")).doesNotThrowAnyException();
    }

    private static byte[] varint(long value) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        while ((value & ~0x7FL) != 0) {
            bytes.write((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        bytes.write((int) value);
        return bytes.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            bytes.writeBytes(part);
        }
        return bytes.toByteArray();
    }

    private static void assertNotOnnx(byte[] file, String hint) {
        assertThatThrownBy(() -> probe(file))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_ONNX))
                .hasMessageStartingWith("model.onnx: is not an ONNX model")
                .hasMessageContaining(hint);
    }

    private static byte[] zip() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("x.npy"));
            zip.write(new byte[64]);
            zip.closeEntry();
        }
        return bytes.toByteArray();
    }
}
