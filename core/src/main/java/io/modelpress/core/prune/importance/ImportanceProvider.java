package io.modelpress.core.prune.importance;

import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.graph.ChannelGraph;

/**
 * A criterion structured pruning ranks channels by, found by name ({@link Criteria}). Core's own criteria are
 * providers too; a module offers more through {@code java.util.ServiceLoader}
 * ({@code META-INF/services/io.modelpress.core.prune.importance.ImportanceProvider}), as {@code train} offers
 * {@code taylor}, which needs gradients.
 */
public interface ImportanceProvider {
    /**
     * What a criterion may look at.
     *
     * @param data    sample inputs; empty where the run has none
     * @param samples at most this many samples of {@code data} are used
     * @param threads threads for the runs a criterion makes
     */
    record Context(OnnxModel model, ChannelGraph graph, CalibrationData data, int samples, int threads) {
    }

    /** The name recipes spell it by, e.g. {@code "l1"}. */
    String name();

    /** Whether it cannot rank without sample data. */
    boolean needsData();

    Importance create(Context context);
}
