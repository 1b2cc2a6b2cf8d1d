package io.modelpress.core.prune.importance;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.graph.Labels;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Per-position sums over constant slices, and their accumulation into class scores. */
final class SliceScores {
    private final OnnxModel model;
    private final ChannelGraph graph;
    private final Map<String, double[]> cache = new HashMap<>();

    SliceScores(OnnxModel model, ChannelGraph graph) {
        this.model = model;
        this.graph = graph;
    }

    ChannelGraph graph() {
        return graph;
    }

    /** Sum of |w|^p over all elements of each position along {@code axis} of a constant. */
    double[] norms(String tensor, int axis, int p) {
        return cache.computeIfAbsent(tensor + "#" + axis + "#" + p, k -> {
            TensorProto t = model.constant(tensor).orElseThrow();
            float[] values = model.floats(t);
            if (p == 2) {
                for (int e = 0; e < values.length; e++) {
                    values[e] *= values[e];
                }
            }
            return positionSums(values, Tensors.dims(t), axis);
        });
    }

    /** Sum of |v| over all elements of each position along {@code axis}, for values laid out as {@code dims}. */
    static double[] positionSums(float[] values, long[] dims, int axis) {
        int n = (int) dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            inner *= dims[i];
        }
        double[] sums = new double[n];
        for (int e = 0; e < values.length; e++) {
            sums[(int) ((e / inner) % n)] += Math.abs(values[e]);
        }
        return sums;
    }

    /**
     * Adds {@code perPosition} of one slice into the group's class scores, divided by the slice's mean over the
     * group's positions.
     *
     * @return whether the slice touched the group
     */
    boolean accumulate(ChannelGraph.Group group, Map<Integer, Integer> classIndex, int[] ids, double[] perPosition, double[] into) {
        double total = 0;
        int count = 0;
        for (int j = 0; j < ids.length; j++) {
            if (ids[j] != Labels.NONE && classIndex.containsKey(graph.classOf(ids[j]))) {
                total += perPosition[j];
                count++;
            }
        }
        if (count == 0) {
            return false;
        }
        double mean = total / count;
        if (mean <= 0 || !Double.isFinite(mean)) {
            return true;
        }
        for (int j = 0; j < ids.length; j++) {
            if (ids[j] != Labels.NONE) {
                Integer c = classIndex.get(graph.classOf(ids[j]));
                if (c != null) {
                    into[c] += perPosition[j] / mean;
                }
            }
        }
        return true;
    }

    /**
     * The group's class scores summed over the slices that touch it, each slice's per-position values given by
     * {@code perPosition} (null: the slice does not count) and weighed as {@link #accumulate} does; null when no slice
     * counted.
     */
    double[] classScores(ChannelGraph.Group group, java.util.function.Function<ChannelGraph.Slice, double[]> perPosition) {
        Map<Integer, Integer> classIndex = classIndex(group);
        double[] result = new double[group.width()];
        boolean any = false;
        for (ChannelGraph.Slice slice : graph.slices()) {
            if (touches(slice, classIndex)) {
                double[] values = perPosition.apply(slice);
                if (values != null) {
                    any |= accumulate(group, classIndex, slice.ids(), values, result);
                }
            }
        }
        return any ? result : null;
    }

    static Map<Integer, Integer> classIndex(ChannelGraph.Group group) {
        Map<Integer, Integer> index = new HashMap<>();
        List<Integer> classes = group.classes();
        for (int i = 0; i < classes.size(); i++) {
            index.put(classes.get(i), i);
        }
        return index;
    }

    /** A cheap pre-check: whether any position of the slice lies in the group. */
    boolean touches(ChannelGraph.Slice slice, Map<Integer, Integer> classIndex) {
        for (int id : slice.ids()) {
            if (id != Labels.NONE && classIndex.containsKey(graph.classOf(id))) {
                return true;
            }
        }
        return false;
    }
}
