package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** A corpus of broken and hostile files: each must fail with its own error code and a message naming the place. */
class BadInputTest {
    @TempDir
    Path dir;

    private ModelPressException readFails(Path file) {
        return readFails(file, ModelLimits.DEFAULT);
    }

    private ModelPressException readFails(Path file, ModelLimits limits) {
        ModelPressException e = catchThrowableOfType(ModelPressException.class, () -> OnnxModel.read(file, limits));
        assertThat(e).as("reading %s must fail", file.getFileName()).isNotNull();
        assertThat(e.getMessage()).doesNotContain("Exception").doesNotContain("\tat ");
        return e;
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private Path write(String name, ModelProto model) throws IOException {
        return write(name, model.toByteArray());
    }

    @Test
    void emptyFile() throws IOException {
        ModelPressException e = readFails(write("empty.onnx", new byte[0]));
        assertThat(e.code()).isEqualTo(ErrorCode.EMPTY_FILE);
        assertThat(e.getMessage()).contains("empty.onnx").contains("empty");
    }

    @Test
    void randomBytesAndTextAreNotOnnx() throws IOException {
        Random random = new Random(42);
        for (int i = 0; i < 20; i++) {
            byte[] bytes = new byte[1 + random.nextInt(5000)];
            random.nextBytes(bytes);
            ModelPressException e = readFails(write("random" + i + ".onnx", bytes));
            assertThat(e.code()).isIn(ErrorCode.NOT_ONNX, ErrorCode.TRUNCATED);
        }
        ModelPressException text = readFails(write("readme.onnx", "This is a README, not a model.\n".getBytes()));
        assertThat(text.code()).isIn(ErrorCode.NOT_ONNX, ErrorCode.TRUNCATED);
        ModelPressException json = readFails(write("config.onnx", "{\"model\": \"bert\"}".getBytes()));
        assertThat(json.code()).isIn(ErrorCode.NOT_ONNX, ErrorCode.TRUNCATED);
    }

    @Test
    void truncatedRealModel() throws IOException {
        byte[] whole;
        try (InputStream in = Files.newInputStream(ReferenceModels.minilmQuantized())) {
            whole = in.readAllBytes();
        }
        for (int cut : new int[] {whole.length / 3, whole.length / 2, whole.length - 100, whole.length - 1}) {
            byte[] part = java.util.Arrays.copyOf(whole, cut);
            ModelPressException e = readFails(write("cut" + cut + ".onnx", part));
            assertThat(e.code()).as("cut at %d", cut).isEqualTo(ErrorCode.TRUNCATED);
            assertThat(e.getMessage()).contains("truncated");
        }
    }

    @Test
    void hostileLengthPrefixDoesNotAllocate() throws IOException {
        // field 7 (graph), length-delimited, claiming 1.9 GB, followed by one small valid field of the graph
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CodedOutputStream coded = CodedOutputStream.newInstance(out);
        coded.writeInt64(1, 8);
        coded.writeTag(7, 2);
        coded.writeUInt32NoTag(1_900_000_000);
        coded.writeString(2, "graph-name");
        coded.flush();
        Runtime rt = Runtime.getRuntime();
        System.gc();
        long before = rt.totalMemory() - rt.freeMemory();
        ModelPressException e = readFails(write("hostile.onnx", out.toByteArray()));
        long after = rt.totalMemory() - rt.freeMemory();
        assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.TRUNCATED);
        assertThat(after - before).as("bytes allocated while rejecting").isLessThan(200L << 20);
    }

    private static TensorProto external(String name, long[] dims, String location, long offset, long length) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.onnxId())
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length)));
        for (long d : dims) {
            b.addDims(d);
        }
        return b.build();
    }

    private ModelProto withInitializer(TensorProto replacementW1) {
        ModelProto base = SmallModels.mlp(2, 2, 2, false, 1);
        GraphProto.Builder g = base.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().equals("w1")) {
                g.setInitializer(i, replacementW1);
            }
        }
        return base.toBuilder().setGraph(g).build();
    }

    @Test
    void externalDataThatEscapesTheModelFolderIsRefused() throws IOException {
        Path secret = Files.write(dir.resolve("secret.bin"), new byte[16]);
        Path modelDir = Files.createDirectories(dir.resolve("model"));
        Files.createSymbolicLink(modelDir.resolve("link.bin"), secret);
        for (String location : List.of("../secret.bin", secret.toString(), "sub/../../secret.bin", "link.bin", "C:\\\\windows\\\\x.bin")) {
            Path file = modelDir.resolve("m.onnx");
            Files.write(file, withInitializer(external("w1", new long[] {2, 2}, location, 0, 16)).toByteArray());
            ModelPressException e = readFails(file);
            assertThat(e.code()).as(location).isEqualTo(ErrorCode.UNSAFE_EXTERNAL_DATA);
            assertThat(e.getMessage()).contains("w1").contains(location);
        }
    }

    @Test
    void externalDataThatIsMissingOrShortIsReported() throws IOException {
        Path modelDir = Files.createDirectories(dir.resolve("model"));
        Files.write(modelDir.resolve("w.bin"), new byte[8]);
        Path missing = modelDir.resolve("missing.onnx");
        Files.write(missing, withInitializer(external("w1", new long[] {2, 2}, "nope.bin", 0, 16)).toByteArray());
        assertThat(readFails(missing).code()).isEqualTo(ErrorCode.MISSING_EXTERNAL_DATA);
        Path shortData = modelDir.resolve("short.onnx");
        Files.write(shortData, withInitializer(external("w1", new long[] {2, 2}, "w.bin", 0, 16)).toByteArray());
        ModelPressException e = readFails(shortData);
        assertThat(e.code()).isEqualTo(ErrorCode.MISSING_EXTERNAL_DATA);
        assertThat(e.getMessage()).contains("w1").contains("too short");
    }

    @Test
    void tensorDataThatDoesNotMatchItsShape() throws IOException {
        TensorProto wrong = TensorProto.newBuilder().setName("w1").setDataType(DataType.FLOAT.onnxId())
                .addDims(2).addDims(2).setRawData(ByteString.copyFrom(new byte[12])).build();
        ModelPressException e = readFails(write("mismatch.onnx", withInitializer(wrong)));
        assertThat(e.code()).isEqualTo(ErrorCode.TENSOR_SHAPE_MISMATCH);
        assertThat(e.getMessage()).contains("w1").contains("12 bytes").contains("16");

        TensorProto typed = TensorProto.newBuilder().setName("w1").setDataType(DataType.FLOAT.onnxId())
                .addDims(2).addDims(2).addFloatData(1f).build();
        assertThat(readFails(write("typed.onnx", withInitializer(typed))).code()).isEqualTo(ErrorCode.TENSOR_SHAPE_MISMATCH);
    }

    @Test
    void hugeDeclaredDimensionsFailWithoutAllocating() throws IOException {
        TensorProto huge = TensorProto.newBuilder().setName("w1").setDataType(DataType.FLOAT.onnxId())
                .addDims(1L << 20).addDims(1L << 20).setRawData(ByteString.copyFrom(new byte[16])).build();
        ModelPressException e = readFails(write("huge.onnx", withInitializer(huge)));
        assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
        assertThat(e.getMessage()).contains("w1");

        TensorProto overflow = huge.toBuilder().clearDims().addDims(1L << 40).addDims(1L << 40).build();
        assertThat(readFails(write("overflow.onnx", withInitializer(overflow))).code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);

        TensorProto negative = huge.toBuilder().clearDims().addDims(-4).build();
        assertThat(readFails(write("negative.onnx", withInitializer(negative))).code()).isEqualTo(ErrorCode.TENSOR_SHAPE_MISMATCH);
    }

    @Test
    void configurableLimits() throws IOException {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(16, 16, 4, false, 1)).write(file);
        assertThat(readFails(file, ModelLimits.DEFAULT.withMaxFileBytes(100)).code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
        assertThat(readFails(file, ModelLimits.DEFAULT.withMaxNodes(3)).getMessage()).contains("5 nodes");
        ModelPressException tensor = readFails(file, ModelLimits.DEFAULT.withMaxTensorBytes(512));
        assertThat(tensor.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
        assertThat(tensor.getMessage()).contains("w1").contains("1024 bytes");
    }

    @Test
    void unsupportedVersions() throws IOException {
        ModelProto base = SmallModels.mlp(2, 2, 2, false, 1);
        ModelPressException ir = readFails(write("ir.onnx", base.toBuilder().setIrVersion(99).build()));
        assertThat(ir.code()).isEqualTo(ErrorCode.UNSUPPORTED_IR_VERSION);
        assertThat(ir.getMessage()).contains("99");
        ModelProto opset = base.toBuilder().setOpsetImport(0, base.getOpsetImport(0).toBuilder().setVersion(3)).build();
        ModelPressException op = readFails(write("opset.onnx", opset));
        assertThat(op.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPSET);
        assertThat(op.getMessage()).contains("opset 3");
    }

    @Test
    void brokenGraphStructure() throws IOException {
        ModelProto base = SmallModels.mlp(2, 2, 2, false, 1);
        GraphProto.Builder g = base.getGraph().toBuilder();
        g.setNode(1, g.getNode(1).toBuilder().setInput(1, "no_such_value"));
        ModelPressException dangling = readFails(write("dangling.onnx", base.toBuilder().setGraph(g).build()));
        assertThat(dangling.code()).isEqualTo(ErrorCode.INVALID_GRAPH);
        assertThat(dangling.getMessage()).contains("add1").contains("no_such_value");
    }

    @Test
    void aDirectoryOrMissingPathIsABadArgument() {
        assertThat(readFails(dir).code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(readFails(dir.resolve("absent.onnx")).getMessage()).contains("does not exist");
    }
}
