package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Arrays;

/**
 * Normalizations. BatchNormalization and InstanceNormalization treat channels (axis 1) independently: their
 * per-channel parameters are cut. The others normalize across some axes; channels on those axes are never pruned (a
 * LayerNormalization's statistics would change), channels on other axes pass through.
 */
final class NormalizationHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        for (int i = 1; i < c.inputCount(); i++) {
            c.freeze(c.labels(i), c.describe() + " reads the channels as a parameter");
        }
        if (l == null) {
            return;
        }
        long[] dims = c.inputDims(0);
        if (dims == null) {
            c.freeze(l, c.describe() + " has an input of unknown shape");
            return;
        }
        int rank = dims.length;
        switch (c.opType()) {
            case "BatchNormalization", "InstanceNormalization" -> perChannel(c, l);
            case "LayerNormalization" -> {
                int start = Axes.normalize(c.intAttribute("axis", -1), rank);
                if (start < 0 || l.axis() >= start) {
                    c.freeze(l, c.describe() + " normalizes over the pruned axis (never pruned across)");
                } else {
                    passAll(c, l);
                }
            }
            case "LpNormalization" -> acrossAxes(c, l, new long[] {c.intAttribute("axis", -1)}, rank);
            case "MeanVarianceNormalization" -> acrossAxes(c, l, c.intsAttribute("axes").orElse(new long[] {0, 2, 3}), rank);
            default -> acrossAxes(c, l, new long[] {1}, rank); // LRN and GroupNormalization work across channels
        }
    }

    private static void perChannel(NodeContext c, Labels l) {
        if (l.axis() != 1) {
            c.freeze(l, c.describe() + " normalizes per channel on axis 1, not on the pruned axis " + l.axis());
            return;
        }
        boolean batchNorm = c.opType().equals("BatchNormalization");
        for (int o = 1; o < c.outputCount(); o++) {
            if (!c.output(o).isEmpty() && !c.consumersOf(c.output(o)).isEmpty()) {
                c.freeze(l, c.describe() + " is in training mode (its running statistics are read)");
                return;
            }
        }
        int params = batchNorm ? 5 : 3;
        for (int i = 1; i < params && i < c.inputCount(); i++) {
            if (!c.cut(i, 0, l.ids(), batchNorm && i == 1 ? Role.BN_SCALE : Role.OTHER)) {
                return;
            }
        }
        c.output(0, l);
    }

    private static void acrossAxes(NodeContext c, Labels l, long[] axes, int rank) {
        boolean across = Arrays.stream(axes).anyMatch(a -> Axes.normalize(a, rank) == l.axis());
        if (across) {
            c.freeze(l, c.describe() + " normalizes over the pruned axis (never pruned across)");
        } else {
            passAll(c, l);
        }
    }

    private static void passAll(NodeContext c, Labels l) {
        for (int o = 0; o < c.outputCount(); o++) {
            c.output(o, l);
        }
    }
}
