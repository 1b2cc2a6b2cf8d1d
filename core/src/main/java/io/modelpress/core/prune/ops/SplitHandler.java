package io.modelpress.core.prune.ops;

import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Arrays;

/**
 * Split: along the split axis each output takes its share of the channels and the split sizes are rewritten to what
 * survives (explicit sizes are written even where the model split evenly); on other axes every output keeps them.
 */
final class SplitHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        c.freeze(c.labels(1), c.describe() + " reads the channels as split sizes");
        if (l == null) {
            return;
        }
        long[] dims = c.inputDims(0);
        if (dims == null) {
            c.freeze(l, c.describe() + " has an input of unknown shape");
            return;
        }
        int axis = Axes.normalize(c.intAttribute("axis", 0), dims.length);
        if (l.axis() != axis) {
            for (int o = 0; o < c.outputCount(); o++) {
                c.output(o, l);
            }
            return;
        }
        if (c.has(1) && !c.isConstant(1)) {
            c.freeze(l, c.describe() + " has split sizes computed at run time");
            return;
        }
        int[][] parts = new int[c.outputCount()][];
        int offset = 0;
        for (int o = 0; o < c.outputCount(); o++) {
            long[] out = c.outputDims(o);
            if (out == null) {
                c.freeze(l, c.describe() + " has an output of unknown shape");
                return;
            }
            parts[o] = Arrays.copyOfRange(l.ids(), offset, offset + (int) out[axis]);
            offset += (int) out[axis];
        }
        for (int o = 0; o < parts.length; o++) {
            c.output(o, new Labels(axis, parts[o]));
        }
        int position = c.position();
        boolean sizesAsInput = c.opset() >= 13;
        String name = c.output(0);
        c.fixup((cut, edits) -> {
            if (!cut.changes(l.ids())) {
                return;
            }
            long[] sizes = new long[parts.length];
            for (int o = 0; o < parts.length; o++) {
                sizes[o] = cut.kept(parts[o]);
            }
            if (sizesAsInput) {
                String split = edits.addConstant(name + "_split", Tensors.ofLongs("split", new long[] {sizes.length}, sizes));
                edits.setInput(position, 1, split);
                edits.removeAttribute(position, "num_outputs");
            } else {
                edits.setAttribute(position, Nodes.attr("split", sizes));
            }
        });
    }
}
