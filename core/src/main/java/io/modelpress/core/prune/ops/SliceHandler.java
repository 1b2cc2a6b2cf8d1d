package io.modelpress.core.prune.ops;

import io.modelpress.core.graph.ShapeEntries;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Arrays;

/**
 * Slice: channels on an axis that is not sliced pass; a unit-step slice of the pruned axis keeps the channels in its
 * range and has its start and end rewritten to the surviving positions. Other slices of the pruned axis freeze it.
 */
final class SliceHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        for (int i = 1; i < c.inputCount(); i++) {
            c.freeze(c.labels(i), c.describe() + " reads the channels as slice bounds");
        }
        if (l == null) {
            return;
        }
        long[] dims = c.inputDims(0);
        boolean inputs = c.opset() >= 10;
        long[] starts = inputs ? c.longs(1) : c.intsAttribute("starts").orElse(null);
        long[] ends = inputs ? c.longs(2) : c.intsAttribute("ends").orElse(null);
        long[] axes = inputs ? (c.has(3) ? c.longs(3) : null) : c.intsAttribute("axes").orElse(null);
        long[] steps = inputs && c.has(4) ? c.longs(4) : null;
        if (dims == null || starts == null || ends == null || (inputs && c.has(3) && axes == null) || (inputs && c.has(4) && steps == null)) {
            c.freeze(l, c.describe() + " slices with bounds computed at run time");
            return;
        }
        int entry = -1;
        for (int e = 0; e < starts.length; e++) {
            int axis = axes == null ? e : Axes.normalize(axes[e], dims.length);
            if (axis == l.axis()) {
                entry = e;
            }
        }
        if (entry < 0) {
            c.output(0, l);
            return;
        }
        if (steps != null && steps[entry] != 1) {
            c.freeze(l, c.describe() + " slices the pruned axis with step " + steps[entry]);
            return;
        }
        long size = dims[l.axis()];
        int start = (int) clamp(starts[entry] < 0 ? starts[entry] + size : starts[entry], size);
        int end = (int) Math.max(start, clamp(ends[entry] < 0 ? ends[entry] + size : ends[entry], size));
        int[] ids = Arrays.copyOfRange(l.ids(), start, end);
        c.output(0, new Labels(l.axis(), ids));
        int position = c.position();
        int e = entry;
        c.fixup((cut, edits) -> {
            if (!cut.changes(l.ids())) {
                return;
            }
            long newStart = cut.keptBefore(l.ids(), start);
            long newEnd = cut.keptBefore(l.ids(), end);
            if (inputs) {
                ShapeEntries.setEntry(edits, position, 1, e, newStart);
                ShapeEntries.setEntry(edits, position, 2, e, newEnd);
            } else {
                long[] s = starts.clone();
                long[] en = ends.clone();
                s[e] = newStart;
                en[e] = newEnd;
                edits.setAttribute(position, Nodes.attr("starts", s));
                edits.setAttribute(position, Nodes.attr("ends", en));
            }
        });
    }

    private static long clamp(long v, long size) {
        return Math.max(0, Math.min(size, v));
    }
}
