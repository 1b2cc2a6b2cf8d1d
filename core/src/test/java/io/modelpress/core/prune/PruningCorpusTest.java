package io.modelpress.core.prune;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.PruningModels;
import io.modelpress.core.transform.OnnxTestCase;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Structured pruning over every model of the ONNX conformance data (Debian libonnx-testdata) with a layer it could
 * prune (Conv, ConvTranspose, Gemm, MatMul, Gather), and over the test CNNs: each must either come out pruned - a
 * model ONNX Runtime runs on the case's inputs with the original output shapes and the onnx checker accepts - or be
 * left alone with a reason for every group. Never an invalid model, never a crash. A conformance case is one layer
 * whose output is the graph's (so it must stay whole); each is also run with a 1x1 layer of the same width appended,
 * which makes the case's own layer prunable: 1-D/3-D, strided, dilated, padded and grouped convolutions, transposed
 * convolutions, Gemm with every transpose and bias form, batched MatMul.
 */
class PruningCorpusTest {
    private static final Set<String> LAYERS = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul", "Gather");

    @TempDir
    Path dir;

    @Test
    void everyModelIsPrunedValidlyOrLeftAloneWithReasons() throws Exception {
        List<String> failures = new ArrayList<>();
        List<Path> pruned = new ArrayList<>();
        Map<String, String> frozen = new LinkedHashMap<>();
        int candidates = 0;
        for (var entry : testCnns().entrySet()) {
            candidates++;
            check(entry.getKey(), OnnxModel.of(entry.getValue()), null, failures, pruned, frozen);
        }
        Path corpus = OnnxTestCase.CORPUS;
        boolean haveCorpus = Files.isDirectory(corpus);
        if (haveCorpus) {
            for (Path caseDir : OnnxTestCase.all()) {
                String name = caseDir.getParent().getFileName() + "/" + caseDir.getFileName();
                OnnxModel model;
                List<Map<String, TensorProto>> inputs;
                Path original = dir.resolve("original.onnx");
                try {
                    model = OnnxModel.read(caseDir.resolve("model.onnx"));
                    if (model.graph().getNodeList().stream().noneMatch(n -> LAYERS.contains(n.getOpType()))) {
                        continue;
                    }
                    inputs = OnnxTestCase.load(caseDir, model).inputSets();
                    freezeWeights(model, inputs);
                    model.write(original);
                    OnnxTestCase.run(original, inputs);
                } catch (Exception runtimeCannotRunIt) {
                    continue;
                }
                candidates++;
                check(name, model, inputs, failures, pruned, frozen);
                OnnxModel extended = OnnxModel.read(original);
                if (extend(extended)) {
                    candidates++;
                    check(name + "+1x1", extended, inputs, failures, pruned, frozen);
                }
            }
        }
        System.out.printf("structured pruning over %d models: %d pruned, %d left alone%n", candidates, pruned.size(), frozen.size());
        frozen.forEach((name, why) -> System.out.println("  left alone " + name + ": " + why));
        failures.forEach(f -> System.out.println("  FAILED: " + f));
        assertThat(failures).isEmpty();
        // measured 2026-12-08 on libonnx-testdata 1.12: 80 models (7 test CNNs, 40 cases, 33 cases with a 1x1 layer
        // appended), 28 pruned; the rest are single layers feeding the graph output, Gather and NLL-loss cases
        assertThat(pruned.size()).as("models pruned").isGreaterThanOrEqualTo(haveCorpus ? 25 : 5);
        OnnxChecker.assertValid(pruned.toArray(Path[]::new));
        Assumptions.assumeTrue(haveCorpus, "libonnx-testdata absent: apt-get install libonnx-testdata");
    }

    private void check(String name, OnnxModel model, List<Map<String, TensorProto>> inputs, List<String> failures, List<Path> pruned,
                       Map<String, String> frozen) {
        Path before = dir.resolve("before.onnx");
        model.write(before);
        PruneReport report;
        try {
            report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withRoundTo(1), CalibrationData.NONE);
        } catch (RuntimeException e) {
            failures.add(name + ": " + e);
            return;
        }
        if (!report.changed()) {
            List<String> reasons = report.groups().stream().map(PruneReport.Group::reason).toList();
            if (reasons.stream().anyMatch(r -> r == null || r.isBlank())) {
                failures.add(name + ": a group was left alone without a reason");
            }
            frozen.put(name, reasons.isEmpty() ? report.notes().getOrDefault("unchanged", "no prunable channels") : String.join(" | ", new TreeSet<>(reasons)));
            return;
        }
        Path after = dir.resolve("pruned-" + pruned.size() + ".onnx");
        model.write(after);
        if (inputs != null) {
            try {
                List<OnnxTestCase.Outputs> expected = OnnxTestCase.run(before, inputs);
                List<OnnxTestCase.Outputs> actual = OnnxTestCase.run(after, inputs);
                for (int i = 0; i < expected.size(); i++) {
                    for (var e : expected.get(i).values().entrySet()) {
                        Object a = actual.get(i).values().get(e.getKey());
                        if (e.getValue() instanceof OnnxTestCase.FloatValues fe && !(a instanceof OnnxTestCase.FloatValues fa && fa.shape().equals(fe.shape()))) {
                            failures.add(name + ": output " + e.getKey() + " changed shape or type");
                        }
                    }
                }
            } catch (Exception e) {
                failures.add(name + ": ONNX Runtime cannot run the pruned model: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
                return;
            }
        }
        if (model.opset("") <= 17) {
            pruned.add(after);
        }
    }

    private static Map<String, ai.onnx.proto.OnnxMl.ModelProto> testCnns() {
        Map<String, ai.onnx.proto.OnnxMl.ModelProto> models = new LinkedHashMap<>();
        models.put("residual-cnn", PruningModels.residualCnn(1, false));
        models.put("residual-cnn-with-einsum", PruningModels.residualCnn(1, true));
        models.put("resnet-stack", PruningModels.resnetStack(3, 1));
        models.put("fashion-like", TestCnns.fashionLike(16, 32, 64, false, 1));
        models.put("fashion-like-constant-nodes", TestCnns.fashionLike(16, 32, 64, true, 1));
        models.put("residual-concat", TestCnns.residual(1));
        models.put("inverted-residual", TestCnns.invertedResidual(1));
        return models;
    }

    /**
     * Appends a 1x1 layer of the same width (a Conv for Conv/ConvTranspose outputs, a MatMul for Gemm/MatMul outputs)
     * behind every graph output a layer produces; the output keeps its name and shape.
     */
    private static boolean extend(OnnxModel model) {
        var graph = model.graph();
        boolean extended = false;
        java.util.Random random = new java.util.Random(1);
        for (var output : List.copyOf(graph.getOutputList())) {
            var shape = io.modelpress.core.onnx.ValueShape.of(output);
            int producer = -1;
            for (int i = 0; i < graph.getNodeCount(); i++) {
                if (graph.getNode(i).getOutputList().contains(output.getName())) {
                    producer = i;
                }
            }
            if (producer < 0 || !shape.isFullyKnown() || shape.dims().size() < 2 || shape.type() != io.modelpress.core.onnx.DataType.FLOAT) {
                continue;
            }
            String op = graph.getNode(producer).getOpType();
            long[] dims = shape.concreteDims(1);
            String inner = output.getName() + "_inner";
            String weight = output.getName() + "_extra_weight";
            NodeProto appended;
            if (op.equals("Conv") || op.equals("ConvTranspose")) {
                int c = (int) dims[1];
                long[] w = new long[dims.length];
                java.util.Arrays.fill(w, 1);
                w[0] = c;
                w[1] = c;
                graph.addInitializer(io.modelpress.core.onnx.Tensors.ofFloats(weight, w, io.modelpress.core.testing.SmallModels.random(random, c * c, 0.3f)));
                appended = io.modelpress.core.onnx.Nodes.node("Conv", output.getName() + "_extra", List.of(inner, weight), List.of(output.getName()));
            } else if (op.equals("Gemm") || op.equals("MatMul")) {
                int n = (int) dims[dims.length - 1];
                graph.addInitializer(io.modelpress.core.onnx.Tensors.ofFloats(weight, new long[] {n, n}, io.modelpress.core.testing.SmallModels.random(random, n * n, 0.3f)));
                appended = io.modelpress.core.onnx.Nodes.node("MatMul", output.getName() + "_extra", List.of(inner, weight), List.of(output.getName()));
            } else {
                continue;
            }
            var node = graph.getNodeBuilder(producer);
            for (int o = 0; o < node.getOutputCount(); o++) {
                if (node.getOutput(o).equals(output.getName())) {
                    node.setOutput(o, inner);
                }
            }
            graph.addNode(producer + 1, appended);
            extended = true;
        }
        return extended;
    }

    /** The conformance cases feed weights as graph inputs; a deployed model holds them as constants (initializers). */
    private static void freezeWeights(OnnxModel model, List<Map<String, TensorProto>> inputs) {
        if (inputs.size() != 1) {
            return;
        }
        Map<String, TensorProto> set = inputs.get(0);
        Set<String> weights = new TreeSet<>();
        for (NodeProto node : model.graph().getNodeList()) {
            for (int i = 0; i < node.getInputCount(); i++) {
                boolean weightPosition = node.getOpType().equals("Gather") ? i == 0 : i >= 1;
                if (LAYERS.contains(node.getOpType()) && weightPosition && set.containsKey(node.getInput(i))) {
                    weights.add(node.getInput(i));
                }
            }
        }
        if (weights.isEmpty() || weights.size() == set.size()) {
            return;
        }
        var graph = model.graph();
        for (String name : weights) {
            graph.addInitializer(set.get(name).toBuilder().setName(name).build());
            // before IR 4 an initializer must also be listed as an input
            for (int i = graph.getInputCount() - 1; i >= 0 && model.proto().getIrVersion() >= 4; i--) {
                if (graph.getInput(i).getName().equals(name)) {
                    graph.removeInput(i);
                }
            }
        }
        Map<String, TensorProto> rest = new LinkedHashMap<>(set);
        rest.keySet().removeAll(weights);
        inputs.set(0, rest);
    }
}
