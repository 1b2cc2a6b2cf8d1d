package io.modelpress.core.prune;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.graph.ValueShapes;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ShapeInference;
import io.modelpress.core.prune.layers.BlockFinder;
import io.modelpress.core.prune.layers.BlockInfluence;
import io.modelpress.core.stats.ModelFootprint;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Depth pruning: finds the repeated blocks of the graph ({@link BlockFinder}) and removes the chosen ones; the layer
 * after a removed block reads what the removed block read. The interface stays; the result is run once in ONNX
 * Runtime before it is accepted.
 */
public final class LayerPruner {
    private LayerPruner() {
    }

    public static PruneReport prune(OnnxModel model, LayerOptions options) {
        return prune(model, options, CalibrationData.NONE);
    }

    /**
     * Prunes the model in place. With {@code keep} and sample data, the blocks that change their input least on the
     * data (lowest {@link BlockInfluence}) go; without data, the kept blocks are spread evenly (first and last kept).
     */
    public static PruneReport prune(OnnxModel model, LayerOptions options, CalibrationData data) {
        PruneReport report = new PruneReport("layers");
        report.footprints(ModelFootprint.withoutGzip(model), null);
        ShapeInference.Shapes shapes = ValueShapes.infer(model);
        List<BlockFinder.Block> blocks = BlockFinder.find(model, shapes.shapes());
        if (blocks.isEmpty()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "layers",
                    "the model has no repeated blocks whose input and output have the same shape, so no layer can be dropped");
        }
        double[] influence = options.keep() != null && !data.isEmpty() ? BlockInfluence.of(model, blocks, data, options.samples()) : null;
        Set<Integer> drop = chosen(options, blocks.size(), influence);
        if (influence != null) {
            report.note("block_influence", java.util.Arrays.stream(influence).mapToObj(v -> String.format(java.util.Locale.ROOT, "%.4f", v)).toList().toString());
        }
        report.note("blocks", blocks.size() + " repeated blocks in " + (blocks.get(blocks.size() - 1).run() + 1) + " run(s)");

        ModelProto original = model.build();
        List<BlockFinder.Block> descending = new ArrayList<>(blocks);
        java.util.Collections.reverse(descending);
        Set<Integer> removedNodes = new HashSet<>();
        for (BlockFinder.Block block : descending) {
            if (drop.contains(block.index())) {
                removedNodes.addAll(bypass(model, block));
            }
        }
        removeNodes(model.graph(), removedNodes);
        GraphEditor.removeDeadNodes(model);
        GraphEditor.removeUnusedConstants(model);
        forgetRemovedValues(model);
        String failure = ValueShapes.mismatch(model, shapes);
        if (failure != null) {
            model.proto().clear().mergeFrom(original);
            throw new ModelPressException(ErrorCode.INTERNAL, "layers", "dropping blocks " + drop + " gave a model ONNX Runtime rejects ("
                    + failure + "); the model is left unchanged");
        }
        for (BlockFinder.Block b : blocks) {
            report.add(new PruneReport.Block(b.index(), b.input(), b.output(), b.nodes().size(), drop.contains(b.index())));
        }
        report.footprints(report.before(), ModelFootprint.withoutGzip(model));
        return report;
    }

    private static Set<Integer> chosen(LayerOptions options, int count, double[] influence) {
        Set<Integer> drop = new TreeSet<>();
        if (options.drop() != null) {
            for (int i : options.drop()) {
                if (i >= count) {
                    throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "drop", "block " + i + " does not exist: the model has "
                            + count + " repeated blocks (0.." + (count - 1) + ")");
                }
                drop.add(i);
            }
            if (drop.size() == count) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "drop", "would remove all " + count + " repeated blocks; keep at least one");
            }
            return drop;
        }
        int keep = options.keep();
        if (keep > count) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "keep", keep + " blocks asked, but the model has only " + count);
        }
        Set<Integer> kept = new TreeSet<>();
        if (influence != null) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                order.add(i);
            }
            order.sort(java.util.Comparator.comparingDouble((Integer i) -> -influence[i]).thenComparingInt(i -> i));
            kept.addAll(order.subList(0, keep));
        } else {
            for (int i = 0; i < keep; i++) {
                kept.add(keep == 1 ? 0 : (int) Math.round((double) i * (count - 1) / (keep - 1)));
            }
        }
        for (int i = 0; i < count; i++) {
            if (!kept.contains(i)) {
                drop.add(i);
            }
        }
        return drop;
    }

    /**
     * Makes every reader of the block's output read its input instead (an Identity where the output is a graph output
     * or read inside a subgraph); returns the positions of the block's nodes to remove.
     */
    private static Set<Integer> bypass(OnnxModel model, BlockFinder.Block block) {
        GraphProto.Builder graph = model.graph();
        GraphIndex index = new GraphIndex(graph);
        Set<Integer> inside = new HashSet<>(block.nodes());
        boolean readInSubgraph = false;
        for (int consumer : index.consumersOf(block.output())) {
            NodeProto.Builder node = graph.getNodeBuilder(consumer);
            for (int i = 0; i < node.getInputCount(); i++) {
                if (node.getInput(i).equals(block.output()) && !inside.contains(consumer)) {
                    node.setInput(i, block.input());
                }
            }
            readInSubgraph |= GraphIndex.implicitInputs(graph.getNode(consumer)).contains(block.output());
        }
        if (index.isGraphOutput(block.output()) || readInSubgraph) {
            int last = block.nodes().stream().mapToInt(Integer::intValue).max().orElseThrow();
            String name = UniqueNames.of(graph).fresh(block.output() + "_bypass");
            graph.setNode(last, Nodes.node("Identity", name, List.of(block.input()), List.of(block.output())));
            Set<Integer> remove = new HashSet<>(block.nodes());
            remove.remove(last);
            return remove;
        }
        return new HashSet<>(block.nodes());
    }

    private static void removeNodes(GraphProto.Builder graph, Set<Integer> positions) {
        for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
            if (positions.contains(i)) {
                graph.removeNode(i);
            }
        }
    }

    /** Drops value_info entries of values nothing produces any more. */
    private static void forgetRemovedValues(OnnxModel model) {
        Set<String> produced = new HashSet<>();
        model.graph().getNodeList().forEach(n -> produced.addAll(n.getOutputList()));
        Set<String> gone = new HashSet<>();
        model.graph().getValueInfoList().forEach(v -> {
            if (!produced.contains(v.getName())) {
                gone.add(v.getName());
            }
        });
        GraphEditor.forgetShapes(model, gone);
    }
}
