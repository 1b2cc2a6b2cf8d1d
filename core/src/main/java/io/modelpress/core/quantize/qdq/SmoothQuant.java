package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.qdq.OperatorRules.Kind;
import io.modelpress.core.quantize.qdq.calibration.HistogramCollector;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * SmoothQuant (Xiao et al., 2023) for static quantization: an activation X with a few outlier channels, read by
 * MatMul/Gemm units with constant weights, is divided per channel by s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)
 * (one exact float Mul before its QuantizeLinear), and the weights' rows are multiplied by s, so X W is unchanged
 * while the outliers move into the per-channel-quantized weights. Units sharing X (query, key and value projections)
 * share one s, taken over all their weights.
 *
 * <p>Only activations computed in float are smoothed. Where a unit's input arrives 8-bit from a quantized producer
 * (a CNN's convolutions), the Mul would force a dequantize-multiply-quantize detour for no range to gain.
 */
final class SmoothQuant {
    private static final double MIN_SCALE = 1e-4;
    private static final double MAX_SCALE = 1e4;

    private SmoothQuant() {
    }

    /** Activations computed in float that MatMul/Gemm units read on their last axis, with those units. */
    static Map<String, List<QdqPlan.Unit>> candidates(QdqPlan plan, QdqPlanner planner) {
        Map<String, List<QdqPlan.Unit>> byInput = new LinkedHashMap<>();
        for (QdqPlan.Unit unit : plan.units.values()) {
            boolean matrix = unit.kind() == Kind.MATMUL || unit.kind() == Kind.GEMM && Nodes.intAttribute(unit.node(), "transA", 0) == 0;
            if (!matrix) {
                continue;
            }
            TensorProto w = planner.constant(unit.node().getInput(unit.weightSlot())).orElse(null);
            String x = unit.node().getInput(0);
            if (w != null && w.getDimsCount() == 2 && !plan.producedQuantized.contains(x)) {
                byInput.computeIfAbsent(x, k -> new ArrayList<>()).add(unit);
            }
        }
        return byInput;
    }

    /** The number of input channels (K) of a unit's weight. */
    private static long inputChannels(QdqPlan.Unit unit, TensorProto w) {
        boolean transposed = unit.kind() == Kind.GEMM && Nodes.intAttribute(unit.node(), "transB", 0) != 0;
        return w.getDims(transposed ? 1 : 0);
    }

    /**
     * Smooths the candidates in place: Mul nodes, rescaled weight copies, units rewired.
     *
     * @return the smoothed activations' new names (the Mul outputs)
     */
    static Set<String> apply(OnnxModel model, QdqPlanner planner, Map<String, List<QdqPlan.Unit>> candidates,
                             HistogramCollector statistics, double alpha) {
        GraphIndex index = planner.index();
        UniqueNames names = UniqueNames.of(model.graph());
        Map<Integer, NodeProto> rewritten = new HashMap<>();
        Map<Integer, List<NodeProto>> inserted = new HashMap<>();
        List<NodeProto> atStart = new ArrayList<>();
        List<TensorProto> initializers = new ArrayList<>();
        Set<String> smoothed = new LinkedHashSet<>();
        for (Map.Entry<String, List<QdqPlan.Unit>> e : candidates.entrySet()) {
            String x = e.getKey();
            float[] xMax = statistics.channelAbsMax(x);
            if (xMax == null) {
                continue;
            }
            int k = xMax.length;
            double[] wMax = new double[k];
            boolean fits = true;
            for (QdqPlan.Unit unit : e.getValue()) {
                TensorProto w = planner.constant(unit.node().getInput(unit.weightSlot())).orElseThrow();
                fits &= inputChannels(unit, w) == k;
                if (fits) {
                    float[] values = model.floats(w);
                    forEachRow(unit, w, (row, i) -> wMax[row] = Math.max(wMax[row], Math.abs(values[i])));
                }
            }
            if (!fits) {
                continue;
            }
            float[] scales = new float[k];
            float[] inverse = new float[k];
            for (int j = 0; j < k; j++) {
                double s = xMax[j] > 0 && wMax[j] > 0 ? Math.pow(xMax[j], alpha) / Math.pow(wMax[j], 1 - alpha) : 1;
                scales[j] = (float) Math.max(MIN_SCALE, Math.min(MAX_SCALE, s));
                inverse[j] = 1f / scales[j];
            }
            String scaleName = names.fresh(x + "_smooth_scale");
            String xs = names.fresh(x + "_smoothed");
            initializers.add(Tensors.ofFloats(scaleName, new long[] {k}, inverse));
            NodeProto mul = Nodes.node("Mul", names.fresh(x + "_SmoothQuant"), List.of(x, scaleName), List.of(xs));
            index.producerOf(x).ifPresentOrElse(p -> inserted.computeIfAbsent(p, q -> new ArrayList<>()).add(mul), () -> atStart.add(mul));
            for (QdqPlan.Unit unit : e.getValue()) {
                TensorProto w = planner.constant(unit.node().getInput(unit.weightSlot())).orElseThrow();
                float[] values = model.floats(w);
                forEachRow(unit, w, (row, i) -> values[i] *= scales[row]);
                String wName = names.fresh(unit.node().getInput(unit.weightSlot()) + "_smoothed");
                initializers.add(Tensors.ofFloats(wName, Tensors.dims(w), values));
                rewritten.put(unit.position(), unit.node().toBuilder().setInput(0, xs).setInput(unit.weightSlot(), wName).build());
            }
            smoothed.add(xs);
        }
        GraphProto.Builder graph = model.graph();
        List<NodeProto> nodes = new ArrayList<>(atStart);
        for (int position = 0; position < index.nodes().size(); position++) {
            nodes.add(rewritten.getOrDefault(position, index.node(position)));
            nodes.addAll(inserted.getOrDefault(position, List.of()));
        }
        graph.clearNode().addAllNode(nodes);
        graph.addAllInitializer(initializers);
        return smoothed;
    }

    @FunctionalInterface
    private interface RowVisitor {
        void visit(int row, int index);
    }

    /** Visits every element of a 2-D weight with the input channel (row of X W) it multiplies. */
    private static void forEachRow(QdqPlan.Unit unit, TensorProto w, RowVisitor visitor) {
        boolean transposed = unit.kind() == Kind.GEMM && Nodes.intAttribute(unit.node(), "transB", 0) != 0;
        int rows = (int) w.getDims(0);
        int cols = (int) w.getDims(1);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                visitor.visit(transposed ? c : r, r * cols + c);
            }
        }
    }
}
