package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Operators that resize, pad or repeat some axes (Pad, Resize, Upsample, Tile, Expand): channels pass when the pruned
 * axis is left alone (pad 0, scale 1, repeat 1, broadcast from 1), else they are frozen.
 */
final class LayoutHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        for (int i = 1; i < c.inputCount(); i++) {
            c.freeze(c.labels(i), c.describe() + " reads the channels as a parameter");
        }
        if (l == null) {
            return;
        }
        long[] in = c.inputDims(0);
        long[] out = c.outputDims(0);
        if (in == null || out == null) {
            c.freeze(l, c.describe() + " has a tensor of unknown shape");
            return;
        }
        int axis = l.axis() + out.length - in.length;
        if (axis < 0 || axis >= out.length || out[axis] != in[l.axis()]) {
            c.freeze(l, c.describe() + " changes the size of the pruned axis");
            return;
        }
        String why = switch (c.opType()) {
            case "Pad" -> padsTouch(c, l, in.length) ? "pads the pruned axis" : null;
            case "Resize", "Upsample" -> resizes(c, l) ? "resizes along the pruned axis" : null;
            case "Tile" -> {
                long[] repeats = c.longs(1);
                yield repeats == null || repeats[l.axis()] != 1 ? "repeats along the pruned axis" : null;
            }
            case "Expand" -> {
                long[] shape = c.longs(1);
                int entry = shape == null ? -1 : axis - (out.length - shape.length);
                yield shape == null || (entry >= 0 && shape[entry] != 1) ? "expands to a shape that names the pruned width" : null;
            }
            default -> "is not understood";
        };
        if (why != null) {
            c.freeze(l, c.describe() + " " + why);
        } else {
            c.output(0, l.onAxis(axis));
        }
    }

    private static boolean padsTouch(NodeContext c, Labels l, int rank) {
        long[] pads = c.opset() >= 11 ? c.longs(1) : c.intsAttribute("pads").orElse(null);
        if (pads == null) {
            return true;
        }
        long[] axes = c.opset() >= 18 && c.has(3) ? c.longs(3) : null;
        if (c.opset() >= 18 && c.has(3) && axes == null) {
            return true;
        }
        int n = pads.length / 2;
        for (int i = 0; i < n; i++) {
            int axis = axes == null ? i : Axes.normalize(axes[i], rank);
            if (axis == l.axis() && (pads[i] != 0 || pads[i + n] != 0)) {
                return true;
            }
        }
        return false;
    }

    private static boolean resizes(NodeContext c, Labels l) {
        // the output shape was checked above: the pruned axis keeps its size; a 'sizes' input would name it
        int sizesInput = c.opType().equals("Resize") && c.opset() >= 11 ? 3 : -1;
        return sizesInput > 0 && c.has(sizesInput);
    }
}
