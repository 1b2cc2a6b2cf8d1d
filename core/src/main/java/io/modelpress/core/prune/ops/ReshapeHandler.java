package io.modelpress.core.prune.ops;

import io.modelpress.core.graph.ShapeEntries;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Optional;

/**
 * Reshape, where its meaning for the pruned axis can be proven from the shapes: the axis is kept as it is, merged with
 * the axes after it (a flatten: each channel becomes a block of positions), or split into heads x head_dim (each head
 * becomes one unit of removal, as in attention). The target-shape entry of that axis is rewritten to the surviving
 * width; it must be a constant (or -1, or a 0 that copies the same axis). Anything else freezes the channels.
 */
final class ReshapeHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        c.freeze(c.labels(1), c.describe() + " reads the channels as a shape");
        if (l == null) {
            return;
        }
        long[] in = c.inputDims(0);
        long[] out = c.outputDims(0);
        if (in == null || out == null) {
            c.freeze(l, c.describe() + " has a tensor of unknown shape");
            return;
        }
        int a = l.axis();
        long width = in[a];
        long before = Axes.product(in, 0, a);
        long after = Axes.product(in, a + 1, in.length);
        int k = -1;
        long prefix = 1;
        for (int i = 0; i < out.length; i++) {
            if (prefix == before && out[i] != 1) {
                k = i;
                break;
            }
            prefix *= out[i];
        }
        int[] outIds = null;
        boolean same = false;
        if (k >= 0 && out[k] == width && Axes.product(out, k + 1, out.length) == after) {
            outIds = l.ids();
            same = true;
        } else if (k >= 0 && out[k] > width && out[k] % width == 0) {
            long merged = out[k] / width;
            for (int t = a + 1; t <= in.length; t++) {
                if (Axes.product(in, a + 1, t) == merged && Axes.product(out, k + 1, out.length) == Axes.product(in, t, in.length)) {
                    outIds = Axes.repeatEach(l.ids(), (int) merged);
                    break;
                }
            }
        } else if (k >= 0 && out[k] < width && width % out[k] == 0) {
            long unit = width / out[k];
            for (int t = k + 2; t <= out.length; t++) {
                if (Axes.product(out, k + 1, t) == unit && Axes.product(out, t, out.length) == after) {
                    outIds = c.heads(l.ids(), (int) unit);
                    break;
                }
            }
        }
        if (outIds == null) {
            c.freeze(l, c.describe() + " moves the pruned axis in a way that cannot be proven (" + java.util.Arrays.toString(in)
                    + " -> " + java.util.Arrays.toString(out) + ")");
            return;
        }
        Optional<ShapeEntries> shape = ShapeEntries.of(c.index(), c::longsOf, c::dims, c.input(1));
        if (shape.isEmpty() || shape.get().entries().size() != out.length) {
            c.freeze(l, c.describe() + " computes its target shape in a way that cannot be rewritten");
            return;
        }
        boolean allowZero = c.intAttribute("allowzero", 0) != 0;
        var entries = shape.get().entries();
        for (int j = 0; j < entries.size(); j++) {
            ShapeEntries.Entry e = entries.get(j);
            if (j == k) {
                boolean ok = e.literal() && (e.value() > 0 || e.value() == -1 || (e.value() == 0 && !allowZero && same && k == a));
                if (!ok) {
                    c.freeze(l, c.describe() + (e.literal() ? " copies the pruned width from another axis"
                            : " computes the pruned width of its target shape at run time"));
                    return;
                }
            } else if (e.literal() && e.value() == 0 && (allowZero || j == a)) {
                c.freeze(l, c.describe() + " copies the pruned width into another axis");
                return;
            }
        }
        c.output(0, new Labels(k, outIds));
        ShapeEntries.Entry entry = entries.get(k);
        if (entry.value() > 0) {
            int position = c.position();
            int[] ids = outIds;
            int axis = k;
            c.fixup((cut, edits) -> {
                if (cut.changes(ids)) {
                    shape.get().rewrite(edits, position, 1, axis, cut.kept(ids));
                }
            });
        }
    }
}
