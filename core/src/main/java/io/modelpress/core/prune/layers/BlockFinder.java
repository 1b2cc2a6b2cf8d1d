package io.modelpress.core.prune.layers;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the repeated blocks of a graph - transformer layers, residual stages - that depth pruning can drop.
 *
 * <p>A <em>cut</em> is a value through which everything computed since the previous cut leaves: the nodes between two
 * cuts read only the first cut's value and values computed before it (an attention mask, constants), and only the
 * second cut's value is read after them. Between consecutive cuts lie segments; a run of consecutive groups of
 * segments with the same structure (operators, attributes, wiring, constant shapes) is a run of repeated blocks. A
 * block can be dropped when its input and output have the same shape: its consumers then read its input instead.
 * Only residual blocks count - each must feed its input to an Add inside itself (a skip connection), so that dropping
 * it leaves the skip path; this also fixes where a layer begins.
 */
public final class BlockFinder {
    private BlockFinder() {
    }

    /** A repeated block: the nodes (main-graph positions) between its input and output values. */
    public record Block(int index, int run, String input, String output, List<Integer> nodes) {
    }

    private record Segment(int from, int to, String input, String output, int nodes) {
    }

    /**
     * @param shapes concrete dims of the graph's values, to check that a block's input and output match
     * @return the droppable blocks of every run, in graph order
     */
    public static List<Block> find(OnnxModel model, Map<String, long[]> shapes) {
        GraphIndex index = new GraphIndex(model.graph());
        List<Integer> sequence = order(index);
        List<Segment> segments = segments(index, sequence);
        Signatures signatures = new Signatures(model, index, sequence, segments);
        List<int[]> runs = new ArrayList<>();
        findRuns(segments, signatures, 0, segments.size(), index, sequence, shapes, runs);
        runs.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<Block> blocks = new ArrayList<>();
        for (int r = 0; r < runs.size(); r++) {
            int[] run = runs.get(r);
            for (int k = 0; k < run[2]; k++) {
                int first = run[0] + k * run[1];
                int last = first + run[1] - 1;
                List<Integer> nodes = new ArrayList<>();
                for (int s = segments.get(first).from() + 1; s <= segments.get(last).to(); s++) {
                    nodes.add(sequence.get(s));
                }
                blocks.add(new Block(blocks.size(), r, segments.get(first).input(), segments.get(last).output(), List.copyOf(nodes)));
            }
        }
        return blocks;
    }

    /** Non-constant nodes in graph order (which ONNX requires to be topological), or a topological order if it is not. */
    private static List<Integer> order(GraphIndex index) {
        Set<String> available = new HashSet<>(index.graphInputs());
        boolean sorted = true;
        List<Integer> sequence = new ArrayList<>();
        for (int i = 0; i < index.nodes().size() && sorted; i++) {
            NodeProto node = index.node(i);
            for (String in : node.getInputList()) {
                if (!in.isEmpty() && !available.contains(in) && !index.isInitializer(in)) {
                    sorted = false;
                }
            }
            available.addAll(node.getOutputList());
        }
        List<Integer> positions = new ArrayList<>();
        if (sorted) {
            for (int i = 0; i < index.nodes().size(); i++) {
                positions.add(i);
            }
        } else {
            positions = index.topologicalOrder();
        }
        for (int p : positions) {
            if (!Weights.isConstantNode(index.node(p))) {
                sequence.add(p);
            }
        }
        return sequence;
    }

    /** The segments between cuts, starting where the most cuts follow (after masks and other shared values are made). */
    private static List<Segment> segments(GraphIndex index, List<Integer> sequence) {
        int n = sequence.size();
        Map<Integer, Integer> sequenceOf = new HashMap<>();
        for (int s = 0; s < n; s++) {
            sequenceOf.put(sequence.get(s), s);
        }
        Map<String, Integer> lastUse = new HashMap<>();
        Map<String, Integer> producedAt = new HashMap<>();
        for (int s = 0; s < n; s++) {
            for (String out : index.node(sequence.get(s)).getOutputList()) {
                if (out.isEmpty()) {
                    continue;
                }
                producedAt.put(out, s);
                int last = index.isGraphOutput(out) ? Integer.MAX_VALUE : -1;
                for (int consumer : index.consumersOf(out)) {
                    Integer c = sequenceOf.get(consumer);
                    last = Math.max(last, c == null ? Integer.MAX_VALUE : c);
                }
                lastUse.put(out, last);
            }
        }
        List<Integer> best = List.of();
        for (int start = 0; start < n; start++) {
            if (singleOutput(index, sequence.get(start), lastUse) == null) {
                continue;
            }
            List<Integer> cuts = cutsFrom(start, index, sequence, lastUse, producedAt);
            if (cuts.size() > best.size()) {
                best = cuts;
            }
        }
        List<Segment> segments = new ArrayList<>();
        for (int i = 0; i + 1 < best.size(); i++) {
            int from = best.get(i);
            int to = best.get(i + 1);
            String input = singleOutput(index, sequence.get(from), lastUse);
            String output = singleOutput(index, sequence.get(to), lastUse);
            segments.add(new Segment(from, to, input, output, to - from));
        }
        return segments;
    }

    /** Cuts found scanning forward from {@code start}, which is the first. */
    private static List<Integer> cutsFrom(int start, GraphIndex index, List<Integer> sequence, Map<String, Integer> lastUse,
                                          Map<String, Integer> producedAt) {
        List<Integer> cuts = new ArrayList<>(List.of(start));
        Set<String> escaping = new HashSet<>();
        int from = start;
        for (int s = start + 1; s < sequence.size(); s++) {
            NodeProto node = index.node(sequence.get(s));
            for (String in : node.getInputList()) {
                Integer produced = producedAt.get(in);
                if (produced != null && produced > from && lastUse.get(in) <= s) {
                    escaping.remove(in);
                }
            }
            for (String out : node.getOutputList()) {
                if (!out.isEmpty() && lastUse.get(out) > s) {
                    escaping.add(out);
                }
            }
            String single = singleOutput(index, sequence.get(s), lastUse);
            if (single != null && escaping.size() == 1 && escaping.contains(single)) {
                cuts.add(s);
                escaping.clear();
                from = s;
            }
        }
        return cuts;
    }

    /** The node's only output that anything reads, or null when it has none or several. */
    private static String singleOutput(GraphIndex index, int position, Map<String, Integer> lastUse) {
        String single = null;
        for (String out : index.node(position).getOutputList()) {
            if (!out.isEmpty() && lastUse.getOrDefault(out, -1) >= 0) {
                if (single != null) {
                    return null;
                }
                single = out;
            }
        }
        return single;
    }

    /**
     * Structures of stretches of segments, independent of names: operators, attributes, constant types and shapes, and
     * wiring - a value made inside the stretch by how far back its producer is, the stretch's input as IN, anything
     * older (a mask) by its name. Equal structures are equal ids.
     */
    private static final class Signatures {
        private final OnnxModel model;
        private final GraphIndex index;
        private final List<Integer> sequence;
        private final List<Segment> segments;
        private final Map<Integer, Integer> sequenceOf = new HashMap<>();
        private final Map<String, String> constantKeys = new HashMap<>();
        private final Map<String, Integer> ids = new HashMap<>();
        private final Map<Long, Integer> cache = new HashMap<>();

        Signatures(OnnxModel model, GraphIndex index, List<Integer> sequence, List<Segment> segments) {
            this.model = model;
            this.index = index;
            this.sequence = sequence;
            this.segments = segments;
            for (int s = 0; s < sequence.size(); s++) {
                sequenceOf.put(sequence.get(s), s);
            }
        }

        /** The structure of segments [first, end). */
        int of(int first, int end) {
            return cache.computeIfAbsent(((long) first << 32) | end, k -> {
                int from = segments.get(first).from();
                int to = segments.get(end - 1).to();
                String signature = describe(from, to, segments.get(first).input());
                return ids.computeIfAbsent(signature, x -> ids.size());
            });
        }

        private String describe(int from, int to, String input) {
            StringBuilder sb = new StringBuilder();
            for (int s = from + 1; s <= to; s++) {
                NodeProto node = index.node(sequence.get(s));
                sb.append(node.getDomain()).append(':').append(node.getOpType()).append('(');
                for (String in : node.getInputList()) {
                    Integer producer = in.isEmpty() ? null : index.producerOf(in).map(sequenceOf::get).orElse(null);
                    if (in.isEmpty()) {
                        sb.append('-');
                    } else if (in.equals(input)) {
                        sb.append("IN");
                    } else if (producer != null && producer > from) {
                        sb.append('D').append(s - producer).append('.').append(index.node(sequence.get(producer)).getOutputList().indexOf(in));
                    } else {
                        sb.append(constantKeys.computeIfAbsent(in, v -> Weights.find(model, v).map(BlockFinder::constantKey).orElse("S:" + v)));
                    }
                    sb.append(',');
                }
                sb.append(")[");
                for (AttributeProto a : node.getAttributeList()) {
                    sb.append(a.getName()).append('=').append(Arrays.hashCode(a.toByteArray())).append(';');
                }
                sb.append("]\n");
            }
            return sb.toString();
        }
    }

    /** A constant by type and shape, and by value when a small integer tensor (shapes and axes are structure). */
    private static String constantKey(TensorProto t) {
        long[] dims = Tensors.dims(t);
        DataType type = DataType.of(t);
        String key = "C:" + type.displayName() + Arrays.toString(dims);
        if (Tensors.elementCount(t) <= 16 && !type.isFloatingPoint() && type != DataType.STRING) {
            key += "=" + Arrays.hashCode(t.toBuilder().clearName().build().toByteArray());
        }
        return key;
    }

    /**
     * Finds the best run in segments [lo, hi) - most nodes covered, then most blocks that begin a residual, then the
     * shortest period - adds it and searches the stretches left and right of it.
     */
    private static void findRuns(List<Segment> segments, Signatures signatures, int lo, int hi, GraphIndex index, List<Integer> sequence,
                                 Map<String, long[]> shapes, List<int[]> runs) {
        int[] best = null;
        long bestCover = 0;
        int bestResidual = -1;
        for (int period = 1; period <= (hi - lo) / 2; period++) {
            for (int start = lo; start + 2 * period <= hi; start++) {
                int reps = 1;
                int first = signatures.of(start, start + period);
                while (start + (reps + 1) * period <= hi && signatures.of(start + reps * period, start + (reps + 1) * period) == first) {
                    reps++;
                }
                while (reps >= 2 && !droppable(segments, start, period, reps, shapes)) {
                    reps--;
                }
                if (reps < 2) {
                    continue;
                }
                long cover = 0;
                for (int s = start; s < start + reps * period; s++) {
                    cover += segments.get(s).nodes();
                }
                int residual = residualBlocks(segments, start, period, reps, index, sequence);
                if (residual < reps) {
                    continue;
                }
                if (cover > bestCover || (cover == bestCover && residual > bestResidual)) {
                    best = new int[] {start, period, reps};
                    bestCover = cover;
                    bestResidual = residual;
                }
            }
        }
        if (best == null) {
            return;
        }
        runs.add(best);
        findRuns(segments, signatures, lo, best[0], index, sequence, shapes, runs);
        findRuns(segments, signatures, best[0] + best[1] * best[2], hi, index, sequence, shapes, runs);
    }

    /** Every block of the run has an output shaped like its input. */
    private static boolean droppable(List<Segment> segments, int start, int period, int reps, Map<String, long[]> shapes) {
        for (int k = 0; k < reps; k++) {
            long[] in = shapes.get(segments.get(start + k * period).input());
            long[] out = shapes.get(segments.get(start + k * period + period - 1).output());
            if (in == null || out == null || !Arrays.equals(in, out)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Blocks whose input is read directly by an Add inside the block whose other operand is also computed inside the
     * block: the two ends of a skip connection (an Add of a constant bias does not count).
     */
    private static int residualBlocks(List<Segment> segments, int start, int period, int reps, GraphIndex index, List<Integer> sequence) {
        int count = 0;
        for (int k = 0; k < reps; k++) {
            Segment first = segments.get(start + k * period);
            Segment last = segments.get(start + k * period + period - 1);
            Set<Integer> inside = new HashSet<>();
            for (int s = first.from() + 1; s <= last.to(); s++) {
                inside.add(sequence.get(s));
            }
            boolean residual = false;
            for (int consumer : index.consumersOf(first.input())) {
                NodeProto node = index.node(consumer);
                if (!inside.contains(consumer) || !(node.getOpType().equals("Add") || node.getOpType().equals("Sum"))) {
                    continue;
                }
                for (String operand : node.getInputList()) {
                    if (!operand.equals(first.input()) && index.producerOf(operand).filter(inside::contains).isPresent()) {
                        residual = true;
                    }
                }
            }
            count += residual ? 1 : 0;
        }
        return count;
    }
}
