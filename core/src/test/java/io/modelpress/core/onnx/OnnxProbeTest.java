package io.modelpress.core.onnx;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
