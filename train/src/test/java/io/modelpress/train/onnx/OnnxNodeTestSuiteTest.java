package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.transform.OnnxTestCase;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The ONNX backend node tests (Debian libonnx-testdata, ONNX 1.12) whose operators the trainer supports: each model
 * run on its test inputs and compared with the reference outputs, |trainer - reference| <= 1e-5 + 1e-4 |reference|.
 */
class OnnxNodeTestSuiteTest {
    private static final Path NODE_TESTS = OnnxTestCase.CORPUS.resolve("node");

    /** Cases the trainer cannot reproduce, and why. */
    private static final Map<String, String> EXCLUDED = Map.ofEntries(
            Map.entry("test_training_dropout", "training-mode dropout draws its own random mask"),
            Map.entry("test_training_dropout_default", "training-mode dropout draws its own random mask"),
            Map.entry("test_training_dropout_default_mask", "training-mode dropout draws its own random mask"),
            Map.entry("test_training_dropout_mask", "training-mode dropout draws its own random mask"),
            Map.entry("test_maxpool_2d_dilations", "MaxPool dilations are not supported (clear error)"),
            Map.entry("test_maxpool_with_argmax_2d_precomputed_pads", "MaxPool's Indices output is not supported (clear error)"),
            Map.entry("test_maxpool_with_argmax_2d_precomputed_strides", "MaxPool's Indices output is not supported (clear error)"),
            Map.entry("test_cast_BFLOAT16_to_FLOAT", "bfloat16 tensors are not supported (clear error)"),
            Map.entry("test_cast_FLOAT_to_BFLOAT16", "bfloat16 tensors are not supported (clear error)"),
            Map.entry("test_castlike_BFLOAT16_to_FLOAT", "bfloat16 tensors are not supported (clear error)"),
            Map.entry("test_castlike_FLOAT_to_BFLOAT16", "bfloat16 tensors are not supported (clear error)"),
            Map.entry("test_castlike_BFLOAT16_to_FLOAT_expanded", "bfloat16 tensors are not supported (clear error)"),
            Map.entry("test_castlike_FLOAT_to_BFLOAT16_expanded", "bfloat16 tensors are not supported (clear error)"),
            Map.entry("test_identity_opt", "optional values are not tensors"),
            Map.entry("test_identity_sequence", "sequence values are not tensors"),
            Map.entry("test_cast_FLOAT_to_STRING", "string tensors are not supported (clear error)"),
            Map.entry("test_cast_STRING_to_FLOAT", "string tensors are not supported (clear error)"),
            Map.entry("test_castlike_FLOAT_to_STRING", "string tensors are not supported (clear error)"),
            Map.entry("test_castlike_STRING_to_FLOAT", "string tensors are not supported (clear error)"),
            Map.entry("test_castlike_FLOAT_to_STRING_expanded", "string tensors are not supported (clear error)"),
            Map.entry("test_castlike_STRING_to_FLOAT_expanded", "string tensors are not supported (clear error)"));

    @Test
    void supportedNodeTestsMatchTheReferenceOutputs() throws IOException {
        assumeTrue(Files.isDirectory(NODE_TESTS), "libonnx-testdata absent: apt-get install libonnx-testdata");
        Set<String> supported = OperatorRegistry.standard().supported();
        List<Path> dirs;
        try (Stream<Path> s = Files.list(NODE_TESTS)) {
            dirs = s.filter(d -> Files.isRegularFile(d.resolve("model.onnx"))).sorted().toList();
        }
        Map<String, String> failures = new TreeMap<>();
        List<String> passed = new ArrayList<>();
        int selected = 0;
        for (Path dir : dirs) {
            OnnxModel model;
            try {
                model = OnnxModel.read(dir.resolve("model.onnx"));
            } catch (RuntimeException e) {
                continue;
            }
            boolean allSupported = model.graph().getNodeList().stream()
                    .allMatch(n -> supported.contains(n.getOpType()) && (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")));
            if (!allSupported || model.graph().getNodeCount() == 0) {
                continue;
            }
            selected++;
            String name = dir.getFileName().toString();
            try {
                runCase(dir, model);
                passed.add(name);
            } catch (Throwable e) {
                failures.put(name, String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString()));
            }
        }
        System.out.printf("ONNX node tests with supported operators: %d of %d pass; excluded with reason: %d%n",
                passed.size(), selected, failures.keySet().stream().filter(EXCLUDED::containsKey).count());
        failures.forEach((name, why) -> System.out.println("  " + name + ": " + why
                + (EXCLUDED.containsKey(name) ? "  [excluded: " + EXCLUDED.get(name) + "]" : "")));
        assertThat(selected).as("node tests selected").isGreaterThan(300);
        assertThat(failures.keySet()).as("failures outside the documented exclusions").isSubsetOf(EXCLUDED.keySet());
    }

    private static void runCase(Path dir, OnnxModel model) throws IOException {
        List<String> outputs = model.graph().getOutputList().stream().map(v -> v.getName()).toList();
        List<String> inputs = model.inputs().stream().map(v -> v.name()).toList();
        List<Path> sets;
        try (Stream<Path> s = Files.list(dir)) {
            sets = s.filter(p -> p.getFileName().toString().startsWith("test_data_set_")).sorted().toList();
        }
        try (OnnxGraphModule module = OnnxGraphModule.load(model)) {
            for (Path set : sets) {
                Map<String, TensorProto> feeds = new LinkedHashMap<>();
                for (int i = 0; Files.isRegularFile(set.resolve("input_" + i + ".pb")); i++) {
                    feeds.put(inputs.get(i), read(set.resolve("input_" + i + ".pb")));
                }
                try (NDManager scope = NDManager.newBaseManager()) {
                    Map<String, NDArray> actual = module.predict(scope, OrtReference.arrays(scope, feeds), outputs);
                    for (int o = 0; o < outputs.size(); o++) {
                        TensorProto expected = read(set.resolve("output_" + o + ".pb"));
                        OrtReference.Values reference = new OrtReference.Values(Tensors.dims(expected), doubles(expected));
                        OrtReference.assertClose(outputs.get(o), reference, OrtReference.values(actual.get(outputs.get(o))), 1e-5, 1e-4);
                    }
                }
            }
        }
    }

    private static TensorProto read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return TensorProto.parseFrom(in);
        }
    }

    private static double[] doubles(TensorProto t) {
        if (io.modelpress.core.onnx.DataType.of(t).isFloatingPoint()) {
            float[] f = Tensors.toFloats(t, null);
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
            if (io.modelpress.core.onnx.DataType.of(t) == io.modelpress.core.onnx.DataType.DOUBLE) {
                java.nio.ByteBuffer raw = Tensors.bytes(t, null);
                for (int i = 0; i < d.length; i++) {
                    d[i] = raw.getDouble(i * 8);
                }
            }
            return d;
        }
        long[] l = Tensors.toLongs(t, null);
        double[] d = new double[l.length];
        for (int i = 0; i < l.length; i++) {
            d[i] = l[i];
        }
        return d;
    }
}
