package io.modelpress.core.testing;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.transform.OnnxTestCase;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The cases of the ONNX conformance data (Debian libonnx-testdata) that hold a constant weight in one of the given
 * operators, with their inputs and ONNX Runtime's outputs: models ModelPress has never seen (1-D/3-D and grouped
 * convolutions, Gemm with transposes, batched MatMul). The operator tests feed weights as graph inputs; where a case
 * has one input set, inputs in weight positions (input 1 of MatMul, Gemm, Conv; input 0 of Gather) become
 * initializers with the case's values, as in a deployed model.
 */
public final class WeightCorpus {
    private WeightCorpus() {
    }

    public record Case(String name, Path model, List<Map<String, TensorProto>> inputs, List<OnnxTestCase.Outputs> expected) {
    }

    public static boolean available() {
        return Files.isDirectory(OnnxTestCase.CORPUS);
    }

    /** Cases ONNX Runtime runs as they are, with a constant weight read by one of {@code ops}; frozen copies go to {@code dir}. */
    public static List<Case> cases(Set<String> ops, Path dir) throws Exception {
        List<Case> cases = new ArrayList<>();
        for (Path caseDir : OnnxTestCase.all()) {
            String name = caseDir.getParent().getFileName() + "/" + caseDir.getFileName();
            Path file = caseDir.resolve("model.onnx");
            try {
                OnnxModel model = OnnxModel.read(file);
                if (model.graph().getNodeList().stream().noneMatch(n -> ops.contains(n.getOpType()))) {
                    continue;
                }
                List<Map<String, TensorProto>> inputs = OnnxTestCase.load(caseDir, model).inputSets();
                if (freezeWeights(model, inputs, ops)) {
                    file = dir.resolve("frozen-" + caseDir.getParent().getFileName() + "-" + caseDir.getFileName() + ".onnx");
                    model.write(file);
                }
                if (!hasConstantWeight(model, ops) || (!inputs.isEmpty() && inputs.get(0).isEmpty())) {
                    continue;
                }
                cases.add(new Case(name, file, inputs, OnnxTestCase.run(file, inputs)));
            } catch (Exception e) {
                // cases ONNX Runtime or the Java API cannot run are not candidates
            }
        }
        return cases;
    }

    private static int weightPosition(NodeProto node) {
        return node.getOpType().equals("Gather") ? 0 : 1;
    }

    private static boolean hasConstantWeight(OnnxModel model, Set<String> ops) {
        for (NodeProto node : model.graph().getNodeList()) {
            int position = weightPosition(node);
            if (ops.contains(node.getOpType()) && node.getInputCount() > position && model.constant(node.getInput(position)).isPresent()) {
                return true;
            }
        }
        return false;
    }

    private static boolean freezeWeights(OnnxModel model, List<Map<String, TensorProto>> inputs, Set<String> ops) {
        if (inputs.size() != 1) {
            return false;
        }
        Map<String, TensorProto> set = inputs.get(0);
        Set<String> weights = new TreeSet<>();
        for (NodeProto node : model.graph().getNodeList()) {
            int position = weightPosition(node);
            if (ops.contains(node.getOpType()) && node.getInputCount() > position && set.containsKey(node.getInput(position))) {
                weights.add(node.getInput(position));
            }
        }
        if (weights.isEmpty() || weights.size() == set.size()) {
            return false;
        }
        var graph = model.graph();
        for (String name : weights) {
            graph.addInitializer(set.get(name).toBuilder().setName(name).build());
            for (int i = graph.getInputCount() - 1; i >= 0; i--) {
                if (graph.getInput(i).getName().equals(name)) {
                    graph.removeInput(i);
                }
            }
        }
        Map<String, TensorProto> rest = new LinkedHashMap<>(set);
        rest.keySet().removeAll(weights);
        inputs.set(0, rest);
        return true;
    }
}
