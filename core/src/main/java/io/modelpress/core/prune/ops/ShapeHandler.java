package io.modelpress.core.prune.ops;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Shape of a tensor that carries channels: harmless as long as every reader picks other dims than the pruned one
 * (exporters read batch and sequence sizes with Gather(Shape(x), i)). A reader that could see the pruned width freezes
 * the channels, since it would compute with the old width. Size always does.
 */
final class ShapeHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        long[] dims = c.inputDims(0);
        if (l == null) {
            return;
        }
        if (c.opType().equals("Size") || dims == null) {
            c.freeze(l, c.describe() + " reads the element count of the pruned tensor");
            return;
        }
        int rank = dims.length;
        int start = Axes.normalize(c.intAttribute("start", 0), rank);
        long endAttribute = c.intAttribute("end", rank);
        int end = endAttribute >= rank ? rank : Math.max(0, (int) (endAttribute < 0 ? endAttribute + rank : endAttribute));
        if (start < 0 || l.axis() < start || l.axis() >= end) {
            return;
        }
        int pruned = l.axis() - start;
        int length = end - start;
        if (c.leavesTheGraph(c.output(0))) {
            c.freeze(l, c.describe() + " hands the pruned width out of the graph");
            return;
        }
        for (NodeProto reader : c.consumersOf(c.output(0))) {
            if (!readsOnlyOtherEntries(c, reader, pruned, length)) {
                c.freeze(l, c.describe() + " feeds " + reader.getOpType() + " '" + reader.getName() + "', which may use the pruned width");
                return;
            }
        }
    }

    private static boolean readsOnlyOtherEntries(NodeContext c, NodeProto reader, int pruned, int length) {
        if (!reader.getOpType().equals("Gather") || reader.getInputCount() < 2 || !reader.getInput(0).equals(c.output(0))
                || Nodes.intAttribute(reader, "axis", 0) != 0) {
            return false;
        }
        long[] indices = c.longsOf(reader.getInput(1));
        if (indices == null) {
            return false;
        }
        for (long index : indices) {
            if (Axes.normalize(index, length) == pruned) {
                return false;
            }
        }
        return true;
    }
}
