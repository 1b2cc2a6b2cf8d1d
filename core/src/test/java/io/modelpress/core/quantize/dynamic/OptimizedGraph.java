package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** The graph ONNX Runtime actually runs (after its fusions), read back from SessionOptions.setOptimizedModelFilePath. */
final class OptimizedGraph {
    private OptimizedGraph() {
    }

    /** Operator type -> count in the optimized main graph; contrib ops are prefixed with their domain. */
    static Map<String, Integer> opCounts(Path model) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("ort-optimized");
            Path optimized = dir.resolve("optimized.onnx");
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setIntraOpNumThreads(1);
                options.setOptimizedModelFilePath(optimized.toString());
                OrtEnvironment.getEnvironment().createSession(model.toString(), options).close();
            }
            ModelProto proto;
            try (InputStream in = Files.newInputStream(optimized)) {
                proto = ModelProto.parseFrom(in);
            }
            Map<String, Integer> counts = new TreeMap<>();
            for (NodeProto node : proto.getGraph().getNodeList()) {
                String key = (node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx") ? "" : node.getDomain() + ":") + node.getOpType();
                counts.merge(key, 1, Integer::sum);
            }
            return counts;
        } catch (IOException | OrtException e) {
            throw new AssertionError("ONNX Runtime could not optimize " + model + ": " + e.getMessage(), e);
        } finally {
            if (dir != null) {
                try (var walk = Files.walk(dir)) {
                    walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException ignored) {
                    // temporary files only
                }
            }
        }
    }

    public static void main(String[] args) {
        for (String a : args) {
            System.out.println(a + ": " + opCounts(Path.of(a)));
        }
    }
}
