package io.modelpress.core.prune.importance;

import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.ChannelGraph;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Data-driven: for every layer that reads a class, mean |activation| of the class on sample data times the L2 norm
 * of the weights that read it (what the class contributes to that layer's output). Groups read by no weighted layer
 * fall back to {@link MagnitudeImportance} (L2).
 */
public final class ActivationImportance implements Importance {
    private final OnnxModel model;
    private final CalibrationData data;
    private final int samples;
    private final int threads;
    private final SliceScores scores;
    private final Importance fallback;
    private Map<String, double[]> meanAbs;

    /**
     * Observes every value a weighted layer reads channels from, on up to {@code samples} samples of {@code data},
     * once: when the first group is scored.
     */
    public ActivationImportance(OnnxModel model, ChannelGraph graph, CalibrationData data, int samples, int threads) {
        this.model = model;
        this.data = data;
        this.samples = samples;
        this.threads = threads;
        this.scores = new SliceScores(model, graph);
        this.fallback = new MagnitudeImportance(model, graph, 2);
    }

    private Map<String, double[]> observe() {
        ChannelGraph graph = scores.graph();
        Map<String, Integer> axes = new LinkedHashMap<>();
        for (ChannelGraph.Slice s : graph.slices()) {
            if (s.role() == Role.IN && s.activation() != null) {
                axes.put(s.activation(), s.activationAxis());
            }
        }
        Map<String, double[]> sums = new HashMap<>();
        Map<String, long[]> counts = new HashMap<>();
        if (!axes.isEmpty()) {
            ActivationObserver.observe(model, axes.keySet(), data, samples, threads, (value, buffer, shape) -> {
                int axis = axes.get(value);
                int n = (int) shape[axis];
                long inner = 1;
                for (int i = axis + 1; i < shape.length; i++) {
                    inner *= shape[i];
                }
                double[] s = sums.computeIfAbsent(value, k -> new double[n]);
                long[] c = counts.computeIfAbsent(value, k -> new long[1]);
                accumulate(buffer, n, inner, s);
                c[0] += buffer.remaining() / Math.max(1, n);
            });
        }
        Map<String, double[]> meanAbs = new HashMap<>();
        sums.forEach((value, s) -> {
            double[] mean = new double[s.length];
            long count = counts.get(value)[0];
            for (int j = 0; j < s.length; j++) {
                mean[j] = count == 0 ? 0 : s[j] / count;
            }
            meanAbs.put(value, mean);
        });
        return meanAbs;
    }

    private static void accumulate(FloatBuffer buffer, int n, long inner, double[] sums) {
        int size = buffer.remaining();
        int start = buffer.position();
        for (int e = 0; e < size; e++) {
            sums[(int) ((e / inner) % n)] += Math.abs(buffer.get(start + e));
        }
    }

    @Override
    public double[] score(ChannelGraph.Group group) {
        if (meanAbs == null) {
            meanAbs = observe();
        }
        double[] result = scores.classScores(group, slice -> {
            double[] activation = slice.role() == Role.IN ? meanAbs.get(slice.activation()) : null;
            if (activation == null || activation.length != slice.ids().length) {
                return null;
            }
            double[] weights = scores.norms(slice.tensor(), slice.axis(), 2);
            double[] contribution = new double[weights.length];
            for (int j = 0; j < weights.length; j++) {
                contribution[j] = activation[j] * Math.sqrt(weights[j]);
            }
            return contribution;
        });
        return result != null ? result : fallback.score(group);
    }

    @Override
    public String name() {
        return "activation";
    }
}
