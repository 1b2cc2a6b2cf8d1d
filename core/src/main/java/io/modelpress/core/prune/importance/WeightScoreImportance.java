package io.modelpress.core.prune.importance;

import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.prune.graph.ChannelGraph;

import java.util.Map;

/**
 * Ranks by a score per weight element that someone else measured (e.g. first-order Taylor |w * dL/dw|): a class's
 * score is the sum over everything it owns, as for {@link MagnitudeImportance}. Groups none of whose weights have a
 * score fall back to L2 magnitude.
 */
public final class WeightScoreImportance implements Importance {
    private final OnnxModel model;
    private final SliceScores scores;
    private final Map<String, float[]> elementScores;
    private final String name;
    private final Importance fallback;

    /**
     * @param elementScores by constant name: one score per element, in the constant's element order
     * @param name          the criterion's name for reports
     */
    public WeightScoreImportance(OnnxModel model, ChannelGraph graph, Map<String, float[]> elementScores, String name) {
        this.model = model;
        this.scores = new SliceScores(model, graph);
        this.elementScores = Map.copyOf(elementScores);
        this.name = name;
        this.fallback = new MagnitudeImportance(model, graph, 2);
    }

    @Override
    public double[] score(ChannelGraph.Group group) {
        double[] result = scores.classScores(group, slice -> {
            float[] values = elementScores.get(slice.tensor());
            if (values == null || !MagnitudeImportance.weighed(slice.role())) {
                return null;
            }
            long[] dims = Tensors.dims(model.constant(slice.tensor()).orElseThrow());
            if (Tensors.elementCount(dims, slice.tensor()) != values.length) {
                throw new IllegalArgumentException("scores of " + slice.tensor() + ": " + values.length + " values for "
                        + Tensors.elementCount(dims, slice.tensor()) + " elements");
            }
            return SliceScores.positionSums(values, dims, slice.axis());
        });
        return result != null ? result : fallback.score(group);
    }

    @Override
    public String name() {
        return name;
    }
}
