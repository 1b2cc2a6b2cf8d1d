package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class RoundTripTest {
    @TempDir
    Path dir;

    @Test
    void realModelsRoundTripByteForByte() throws Exception {
        for (Path source : List.of(ReferenceModels.minilm(), ReferenceModels.minilmQuantized())) {
            OnnxModel model = OnnxModel.read(source);
            Path copy = dir.resolve(source.getFileName());
            model.write(copy);
            assertThat(Files.mismatch(source, copy)).as("first differing byte of %s", source.getFileName()).isEqualTo(-1);
        }
    }

    @Test
    void weightsInConstantNodesAreReadableAndReplaceable() throws Exception {
        Path file = dir.resolve("const.onnx");
        OnnxModel.of(SmallModels.mlp(4, 8, 3, true, 1)).write(file);
        OnnxModel model = OnnxModel.read(file);
        assertThat(model.graph().getInitializerCount()).isZero();

        TensorProto w1 = model.constant("w1").orElseThrow();
        assertThat(Tensors.dims(w1)).containsExactly(4, 8);
        float[] values = model.floats(w1);
        assertThat(values).hasSize(32);

        // zero the first layer: the model's output must then equal relu(b1) @ w2 + b2 for every input
        Weights.replace(model, "w1", Tensors.ofFloats("w1", new long[] {4, 8}, new float[32]));
        Path edited = dir.resolve("edited.onnx");
        model.write(edited);
        OnnxChecker.assertValid(file, edited);

        float[] b1 = model.floats(model.constant("b1").orElseThrow());
        float[] w2 = model.floats(model.constant("w2").orElseThrow());
        float[] b2 = model.floats(model.constant("b2").orElseThrow());
        float[] expected = new float[3];
        for (int o = 0; o < 3; o++) {
            expected[o] = b2[o];
            for (int h = 0; h < 8; h++) {
                expected[o] += Math.max(0, b1[h]) * w2[h * 3 + o];
            }
        }
        float[] y = Ort.runFirstOutput(edited, Map.of("x", new Ort.Floats(new float[] {1, -2, 3, 0.5f}, 1, 4)));
        assertThat(y).containsExactly(expected, org.assertj.core.data.Offset.offset(1e-5f));
    }

    @Test
    void subgraphsSurviveEditsAndTheirOuterReadsAreIndexed() throws Exception {
        Path file = dir.resolve("if.onnx");
        OnnxModel.of(SmallModels.withIf(4, 3)).write(file);
        OnnxModel model = OnnxModel.read(file);
        GraphIndex index = new GraphIndex(model.graph());
        // the If node reads x and w inside its then-branch: it must count as their consumer
        assertThat(index.consumerNodes("w")).extracting(NodeProto::getOpType).containsExactly("If");
        assertThat(index.consumerNodes("x")).extracting(NodeProto::getOpType).containsExactly("If");
        assertThat(GraphIndex.implicitInputs(index.node(0))).contains("x", "w", "two");

        GraphProto thenBefore = index.node(0).getAttribute(0).getG();
        // an edit elsewhere in the graph: scale w
        float[] w = model.floats(model.constant("w").orElseThrow());
        for (int i = 0; i < w.length; i++) {
            w[i] *= 2;
        }
        Weights.replace(model, "w", Tensors.ofFloats("w", new long[] {4, 4}, w));
        model.graph().setDocString("edited");
        Path edited = dir.resolve("if-edited.onnx");
        model.write(edited);
        OnnxModel reread = OnnxModel.read(edited);
        assertThat(reread.graph().getNode(0).getAttribute(0).getG()).isEqualTo(thenBefore);
        OnnxChecker.assertValid(edited);

        float[] x = {1, 2, 3, 4};
        float[] thenOut = Ort.runFirstOutput(edited, Map.of("cond", true, "x", new Ort.Floats(x, 1, 4)));
        float[] elseOut = Ort.runFirstOutput(edited, Map.of("cond", false, "x", new Ort.Floats(x, 1, 4)));
        assertThat(elseOut).containsExactly(2, 4, 6, 8);
        float[] expected = new float[4];
        for (int j = 0; j < 4; j++) {
            for (int i = 0; i < 4; i++) {
                expected[j] += x[i] * w[i * 4 + j];
            }
        }
        assertThat(thenOut).containsExactly(expected, org.assertj.core.data.Offset.offset(1e-4f));
    }

    @Test
    void externalDataModelsRoundTripAndRunInOrt() throws Exception {
        Path inlineFile = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(64, 128, 10, false, 5)).write(inlineFile);
        Path externalDir = Files.createDirectories(dir.resolve("external"));
        Path externalFile = externalDir.resolve("mlp.onnx");
        OnnxModel.read(inlineFile).write(externalFile, ModelWriter.Options.external());
        assertThat(externalDir.resolve("mlp.onnx.data")).exists();
        assertThat(Files.size(externalFile)).isLessThan(Files.size(inlineFile) / 4);

        OnnxModel external = OnnxModel.read(externalFile);
        TensorProto w1 = external.constant("w1").orElseThrow();
        assertThat(ExternalData.isExternal(w1)).isTrue();
        assertThat(external.floats(w1)).containsExactly(OnnxModel.read(inlineFile).floats(OnnxModel.read(inlineFile).constant("w1").orElseThrow()));

        // unmodified: the .onnx and its data are reproduced byte for byte elsewhere
        Path copyDir = Files.createDirectories(dir.resolve("copy"));
        external.write(copyDir.resolve("mlp.onnx"));
        assertThat(Files.mismatch(externalFile, copyDir.resolve("mlp.onnx"))).isEqualTo(-1);
        assertThat(Files.mismatch(externalDir.resolve("mlp.onnx.data"), copyDir.resolve("mlp.onnx.data"))).isEqualTo(-1);

        // and written inline again, it equals the original
        Path back = dir.resolve("back.onnx");
        external.write(back, new ModelWriter.Options(ModelWriter.Layout.INLINE, 0));
        assertThat(Files.mismatch(inlineFile, back)).isEqualTo(-1);

        float[] input = SmallModels.random(new Random(9), 64, 1f);
        float[] a = Ort.runFirstOutput(inlineFile, Map.of("x", new Ort.Floats(input, 1, 64)));
        float[] b = Ort.runFirstOutput(externalFile, Map.of("x", new Ort.Floats(input, 1, 64)));
        assertThat(b).containsExactly(a);
        OnnxChecker.assertValid(externalFile);
    }

    @Test
    void modifiedExternalModelIsRepackedWithoutStaleData() throws Exception {
        Path externalFile = dir.resolve("m.onnx");
        OnnxModel.of(SmallModels.mlp(64, 128, 10, false, 5)).write(externalFile, ModelWriter.Options.external());
        OnnxModel model = OnnxModel.read(externalFile);
        Weights.replace(model, "w1", Tensors.ofFloats("w1", new long[] {64, 128}, new float[64 * 128]));
        Path outDir = Files.createDirectories(dir.resolve("out"));
        model.write(outDir.resolve("m.onnx"));
        OnnxModel reread = OnnxModel.read(outDir.resolve("m.onnx"));
        assertThat(reread.floats(reread.constant("w1").orElseThrow())).containsOnly(0f);
        assertThat(reread.floats(reread.constant("w2").orElseThrow()))
                .containsExactly(model.floats(model.constant("w2").orElseThrow()));
        // rewriting in place over the files being read is safe
        model.write(externalFile);
        OnnxModel inPlace = OnnxModel.read(externalFile);
        assertThat(inPlace.floats(inPlace.constant("w1").orElseThrow())).containsOnly(0f);
    }

    @Test
    void externalDataWrittenByTheOnnxLibraryIsReadAndCopiedVerbatim() throws Exception {
        Path inlineFile = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(32, 300, 10, false, 2)).write(inlineFile);
        Path foreignDir = Files.createDirectories(dir.resolve("foreign"));
        var result = OnnxChecker.python("import onnx,sys\nm=onnx.load(sys.argv[1])\n"
                + "onnx.save_model(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)\n",
                inlineFile.toString(), foreignDir.resolve("model.onnx").toString());
        assertThat(result.exitCode()).as(result.output()).isZero();

        OnnxModel foreign = OnnxModel.read(foreignDir.resolve("model.onnx"));
        assertThat(foreign.floats(foreign.constant("w2").orElseThrow()))
                .containsExactly(OnnxModel.read(inlineFile).floats(OnnxModel.read(inlineFile).constant("w2").orElseThrow()));
        Path copyDir = Files.createDirectories(dir.resolve("copy"));
        foreign.write(copyDir.resolve("model.onnx"));
        assertThat(Files.mismatch(foreignDir.resolve("model.onnx"), copyDir.resolve("model.onnx"))).isEqualTo(-1);
        try (var files = Files.list(foreignDir)) {
            for (Path f : files.toList()) {
                assertThat(Files.mismatch(f, copyDir.resolve(f.getFileName()))).as(f.getFileName().toString()).isEqualTo(-1);
            }
        }
    }

    @Test
    void graphQueriesOnARealModel() {
        OnnxModel model = OnnxModel.read(ReferenceModels.minilm());
        GraphIndex index = new GraphIndex(model.graph());
        List<Integer> order = index.topologicalOrder();
        assertThat(order).hasSize(model.graph().getNodeCount());
        java.util.Set<String> seen = new java.util.HashSet<>(index.graphInputs());
        model.graph().getInitializerList().forEach(t -> seen.add(t.getName()));
        for (int position : order) {
            NodeProto node = index.node(position);
            for (String in : node.getInputList()) {
                assertThat(in.isEmpty() || seen.contains(in)).as("%s reads %s before it exists", node.getName(), in).isTrue();
            }
            seen.addAll(node.getOutputList());
        }
        List<ValueShape> inputs = model.inputs();
        assertThat(inputs).extracting(ValueShape::name).contains("input_ids", "attention_mask");
        assertThat(inputs.get(0).type()).isEqualTo(DataType.INT64);
        String firstMatMulWeight = model.graph().getNodeList().stream().filter(n -> n.getOpType().equals("MatMul"))
                .map(n -> n.getInput(1)).filter(w -> model.constant(w).isPresent()).findFirst().orElseThrow();
        assertThat(index.consumerNodes(firstMatMulWeight)).extracting(NodeProto::getOpType).contains("MatMul");
    }

    @Test
    void writtenModelsAreReadableByOthers() throws Exception {
        Path file = dir.resolve("perm.onnx");
        OnnxModel.of(SmallModels.mlp(2, 2, 2, false, 1)).write(file);
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-r--r--");
    }

    @Test
    void opsetImportsCanBeReadAndRaised() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(2, 2, 2, false, 1));
        assertThat(model.opset("")).isEqualTo(17);
        assertThat(model.opset("ai.onnx")).isEqualTo(17);
        model.setOpset("ai.onnx", 19);
        model.setOpset("com.microsoft", 1);
        assertThat(model.opset("")).isEqualTo(19);
        assertThat(model.opset("com.microsoft")).isEqualTo(1);
        ModelProto built = model.build();
        assertThat(built.getOpsetImportCount()).isEqualTo(2);
    }
}
