package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the MatMul/Gemm nodes that lose most to quantization, by measurement: a probe copy of the model computes each
 * candidate twice from the same float input, once as it is and once quantized as the quantizer would emit it, and
 * the relative error of the quantized twin (sum of squared differences over sum of squares) is accumulated over the
 * calibration data. One run covers every candidate, and each error is the node's own (no upstream error mixed in).
 */
final class Sensitivity {
    private static final String TWIN = "_sensitivity_twin";

    private Sensitivity() {
    }

    /** Candidate node label -> relative error, largest first. */
    static Map<String, Double> measure(OnnxModel model, DynamicOptions options, Set<String> floatNodes, CalibrationData data) {
        OnnxModel probe = model.copy();
        Map<String, List<Integer>> groups = DynamicQuantizer.matMulGroups(probe, options, floatNodes);
        GraphEditor duplicates = new GraphEditor(probe);
        GraphIndex index = duplicates.index();
        Map<String, String> twinOf = new LinkedHashMap<>(); // original output -> twin output
        Map<String, String> labelOf = new HashMap<>();
        List<String> twinNames = new ArrayList<>();
        for (List<Integer> positions : groups.values()) {
            for (int position : positions) {
                NodeProto node = index.node(position);
                String twinName = duplicates.freshName(Graphs.nodeLabel(node) + TWIN);
                String twinOutput = duplicates.freshName(node.getOutput(0) + TWIN);
                duplicates.replace(position, List.of(node, node.toBuilder().setName(twinName).setOutput(0, twinOutput).build()));
                twinOf.put(node.getOutput(0), twinOutput);
                labelOf.put(node.getOutput(0), Graphs.nodeLabel(node));
                twinNames.add(twinName);
            }
        }
        duplicates.apply();
        // quantize the twins only: every other candidate is named float
        Set<String> others = new java.util.HashSet<>();
        for (NodeProto node : probe.graph().getNodeList()) {
            if (!twinNames.contains(node.getName())) {
                others.add(Graphs.nodeLabel(node));
            }
        }
        Map<String, String> stayFloat = new HashMap<>();
        others.forEach(n -> stayFloat.put(n, "not probed"));
        DynamicQuantizer.quantizeNodes(probe, options.withEmbeddingsOff(), stayFloat, new QuantizationReport("probe"));

        List<String> observed = new ArrayList<>(twinOf.keySet());
        observed.addAll(twinOf.values());
        Map<String, String> pairOf = new HashMap<>();
        twinOf.forEach((original, twin) -> {
            pairOf.put(original, twin);
            pairOf.put(twin, original);
        });
        Map<String, float[]> pending = new HashMap<>();
        Map<String, double[]> sums = new HashMap<>(); // original output -> {squared error, squared reference}
        ActivationObserver.observe(probe, observed, data, options.calibrationSamples(), 2, (value, buffer, shape) -> {
            float[] values = new float[buffer.remaining()];
            buffer.duplicate().get(values);
            float[] partner = pending.remove(pairOf.get(value));
            if (partner == null) {
                pending.put(value, values);
                return;
            }
            boolean isTwin = twinOf.containsValue(value);
            float[] reference = isTwin ? partner : values;
            float[] quantized = isTwin ? values : partner;
            double[] s = sums.computeIfAbsent(isTwin ? pairOf.get(value) : value, k -> new double[2]);
            for (int i = 0; i < reference.length; i++) {
                double d = quantized[i] - reference[i];
                s[0] += d * d;
                s[1] += (double) reference[i] * reference[i];
            }
        });
        Map<String, Double> errors = new LinkedHashMap<>();
        sums.entrySet().stream()
                .sorted(Comparator.comparingDouble((Map.Entry<String, double[]> e) -> -e.getValue()[0] / Math.max(e.getValue()[1], 1e-30)))
                .forEach(e -> errors.put(labelOf.get(e.getKey()), e.getValue()[0] / Math.max(e.getValue()[1], 1e-30)));
        return errors;
    }
}
