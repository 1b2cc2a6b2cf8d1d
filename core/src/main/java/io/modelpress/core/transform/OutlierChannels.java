package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Computes a few outlier channels of an activation in float, beside the quantized MatMul. Transformer FFNs have one
 * or two hidden neurons whose activation reaches 10x the others; quantized per tensor, they leave the rest a handful
 * of levels. When the activation is an elementwise function f (GELU, ReLU, ...) of a linear layer h = x @ W1 + b1,
 * channel j depends on column j of W1 alone, so the split is exact:
 * <pre>
 *   main:  W1[:, J] = 0, b1[J] = 0, W2[J, :] = 0      (the quantized path no longer sees channels J)
 *   side:  y += f(x @ W1[:, J] + b1[J]) @ W2[J, :]    (float, k = |J| columns)
 * </pre>
 * The side path costs two thin float MatMuls, a copy of f, and one Add.
 */
public final class OutlierChannels implements Pass<OutlierChannels.Options> {
    public static final String NAME = "outlier_channels";
    /** A channel is an outlier when its max |x| is this many times the median channel's. */
    static final double MIN_RATIO = 6;
    /**
     * A side path costs three small kernels and a pass over the output; it is worth that only for extreme outliers.
     * Milder ones are left to SmoothQuant, whose one Mul is cheaper.
     */
    static final double MIN_STRENGTH = 12;

    /** Operators that act on each element alone (with constant or same-chain operands). */
    private static final Set<String> ELEMENTWISE = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sigmoid",
            "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Gelu", "Exp", "Log", "Sqrt", "Abs", "Neg",
            "Clip", "HardSigmoid", "HardSwish", "Mish", "Identity", "Reciprocal", "ThresholdedRelu");

    /** @param limit the most channels of one activation to compute in float */
    public record Options(int limit) {
    }

    private final Options options;
    private final ChannelRanges ranges;
    private final ProductGroups groups;
    private Result result = new Result(Set.of(), 0, Set.of());

    /** Splits the activations of {@code groups} (those read by one product only) by their observed {@code ranges}. */
    public OutlierChannels(Options options, ChannelRanges ranges, ProductGroups groups) {
        this.options = options;
        this.ranges = ranges;
        this.groups = groups;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Options options() {
        return options;
    }

    @Override
    public PassResult apply(OnnxModel model) {
        result = splitOutliers(model, ranges, groups.of(model), options.limit());
        return PassResult.changed(NAME, result.channels(), result.channels() + " channels of " + result.activations().size()
                + " activations computed in float on side paths");
    }

    /** The nodes of the side paths made by the last {@link #apply}: they compute in float by design. */
    public Set<String> sideNodes() {
        return result.sideNodes();
    }

    /** The activations split by the last {@link #apply}. */
    public Set<String> activations() {
        return result.activations();
    }

    /** The channels worth computing in float: at most {@code limit}, largest first. */
    static int[] outliers(float[] xMax, int limit) {
        float[] sorted = xMax.clone();
        Arrays.sort(sorted);
        float threshold = (float) (sorted[sorted.length / 2] * MIN_RATIO);
        return IntStream.range(0, xMax.length).boxed().filter(c -> xMax[c] > threshold)
                .sorted(Comparator.comparingDouble(c -> -xMax[c])).limit(limit).mapToInt(Integer::intValue).sorted().toArray();
    }

    /**
     * The function f between a linear producer and the activation: the chain's nodes (in graph order), its source
     * value h, and the producer (MatMul or Gemm) with its optional bias Add.
     */
    record Chain(List<Integer> nodes, String source, int producer, Integer biasAdd) {
    }

    /** Result for the report and for the quantizer, which must leave the side path in float. */
    record Result(Set<String> activations, int channels, Set<String> sideNodes) {
    }

    private static Result splitOutliers(OnnxModel model, ChannelRanges ranges, Map<String, List<Integer>> groups, int limit) {
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        Set<String> sideNodes = new LinkedHashSet<>();
        Set<String> activations = new LinkedHashSet<>();
        int channels = 0;
        for (Map.Entry<String, List<Integer>> group : groups.entrySet()) {
            float[] xMax = ranges.absMax(group.getKey());
            if (xMax == null || group.getValue().size() != 1) {
                continue;
            }
            int[] outliers = outliers(xMax, limit);
            if (outliers.length == 0 || ChannelScaling.outlierStrength(xMax) < MIN_STRENGTH) {
                continue;
            }
            int consumer = group.getValue().get(0);
            Optional<Chain> chain = chain(model, index, group.getKey(), consumer, xMax.length);
            if (chain.isEmpty() || touched(editor, chain.get(), consumer)) {
                continue;
            }
            split(editor, chain.get(), group.getKey(), consumer, outliers, sideNodes);
            activations.add(group.getKey());
            channels += outliers.length;
        }
        editor.apply();
        return new Result(activations, channels, sideNodes);
    }

    private static boolean touched(GraphEditor editor, Chain chain, int consumer) {
        return editor.isReplaced(consumer) || editor.isReplaced(chain.producer())
                || (chain.biasAdd() != null && editor.isReplaced(chain.biasAdd()));
    }

    /** Walks back from the activation through elementwise nodes to one linear producer. */
    static Optional<Chain> chain(OnnxModel model, GraphIndex index, String activation, int consumer, int channels) {
        Set<Integer> nodes = new LinkedHashSet<>();
        String source = null;
        Integer producer = null;
        Integer biasAdd = null;
        List<String> pending = new ArrayList<>(List.of(activation));
        Set<String> seen = new LinkedHashSet<>();
        while (!pending.isEmpty()) {
            String value = pending.remove(pending.size() - 1);
            if (!seen.add(value) || value.equals(source)) {
                continue;
            }
            Optional<Integer> p = index.producerOf(value);
            if (p.isEmpty()) {
                return Optional.empty();
            }
            NodeProto node = index.node(p.get());
            Optional<int[]> linear = linearSource(model, index, p.get(), channels);
            if (linear.isPresent()) {
                if (source != null && !source.equals(value)) {
                    return Optional.empty(); // two different sources
                }
                source = value;
                producer = linear.get()[0];
                biasAdd = linear.get()[1] < 0 ? null : linear.get()[1];
                continue;
            }
            if (!ELEMENTWISE.contains(node.getOpType()) || !ChannelScaling.isDefault(node, node.getOpType()) || node.getOutputCount() != 1) {
                return Optional.empty();
            }
            nodes.add(p.get());
            for (String input : node.getInputList()) {
                if (input.isEmpty()) {
                    continue;
                }
                if (model.constant(input).isPresent()) {
                    if (ChannelScaling.perChannelConstant(model, input, channels).isEmpty()) {
                        return Optional.empty();
                    }
                } else {
                    pending.add(input);
                }
            }
        }
        if (source == null) {
            return Optional.empty();
        }
        // every value inside the chain must stay inside it: zeroing channels must not leak elsewhere
        List<Integer> inside = new ArrayList<>(nodes);
        inside.add(consumer);
        for (int n : nodes) {
            String out = index.node(n).getOutput(0);
            if (!ChannelScaling.onlyReadBy(index, out, inside)) {
                return Optional.empty();
            }
        }
        if (!ChannelScaling.onlyReadBy(index, source, inside)) {
            return Optional.empty();
        }
        List<Integer> ordered = nodes.stream().sorted().toList();
        return Optional.of(new Chain(ordered, source, producer, biasAdd));
    }

    /**
     * If the node at {@code position} ends a linear layer with a constant 2-D weight of {@code channels} columns
     * (MatMul/Gemm, or the Add of a constant bias after one), returns {producer, bias Add or -1}.
     */
    private static Optional<int[]> linearSource(OnnxModel model, GraphIndex index, int position, int channels) {
        NodeProto node = index.node(position);
        if (isLinear(model, node, channels)) {
            return Optional.of(new int[] {position, -1});
        }
        int constant = ChannelScaling.constantInput(model, node);
        if (ChannelScaling.isDefault(node, "Add") && constant >= 0
                && ChannelScaling.perChannelConstant(model, node.getInput(constant), channels).isPresent()) {
            String product = node.getInput(1 - constant);
            Optional<Integer> p = index.producerOf(product);
            if (p.isPresent() && isLinear(model, index.node(p.get()), channels)
                    && ChannelScaling.onlyReadBy(index, product, List.of(position))) {
                return Optional.of(new int[] {p.get(), position});
            }
        }
        return Optional.empty();
    }

    private static boolean isLinear(OnnxModel model, NodeProto node, int channels) {
        boolean matMul = ChannelScaling.isDefault(node, "MatMul");
        boolean gemm = ChannelScaling.isDefault(node, "Gemm") && Nodes.intAttribute(node, "transA", 0) == 0
                && node.getInputCount() == 2; // a Gemm bias would need splitting too; not worth the cases
        if (!(matMul || gemm) || model.constant(node.getInput(0)).isPresent()) {
            return false;
        }
        return model.constant(node.getInput(1)).filter(t -> t.getDimsCount() == 2
                && io.modelpress.core.onnx.DataType.of(t) == io.modelpress.core.onnx.DataType.FLOAT).isPresent()
                && ChannelScaling.weight(model, node).cols() == channels;
    }

    private static void split(GraphEditor editor, Chain chain, String activation, int consumer, int[] outliers, Set<String> sideNodes) {
        OnnxModel model = editor.model();
        GraphIndex index = editor.index();
        int k = outliers.length;
        NodeProto producer = index.node(chain.producer());
        NodeProto target = index.node(consumer);
        String base = Graphs.nodeLabel(target) + "_outliers";
        List<NodeProto> side = new ArrayList<>();

        // side: x @ W1[:, J] (+ b1[J])
        ChannelScaling.Matrix w1 = ChannelScaling.weight(model, producer);
        float[] w1Side = new float[w1.rows() * k];
        float[] w1Main = w1.values().clone();
        for (int r = 0; r < w1.rows(); r++) {
            for (int j = 0; j < k; j++) {
                w1Side[r * k + j] = w1.get(r, outliers[j]);
                w1Main[r * w1.cols() + outliers[j]] = 0;
            }
        }
        String w1SideName = editor.freshName(base + "_in_weight");
        editor.addInitializer(Tensors.ofFloats(w1SideName, new long[] {w1.rows(), k}, w1Side));
        String h = editor.freshName(base + "_in");
        side.add(sideNode(editor, sideNodes, "MatMul", base + "_in_MatMul", List.of(producer.getInput(0), w1SideName), h));
        Map<String, String> renamed = new HashMap<>();
        if (chain.biasAdd() != null) {
            NodeProto add = index.node(chain.biasAdd());
            int constant = ChannelScaling.constantInput(model, add);
            float[] bias = ChannelScaling.perChannelConstant(model, add.getInput(constant), w1.cols()).orElseThrow();
            float[] biasSide = new float[k];
            float[] biasMain = bias.clone();
            for (int j = 0; j < k; j++) {
                biasSide[j] = bias[outliers[j]];
                biasMain[outliers[j]] = 0;
            }
            String biasSideName = editor.freshName(base + "_in_bias");
            editor.addInitializer(Tensors.ofFloats(biasSideName, new long[] {k}, biasSide));
            String hb = editor.freshName(base + "_in_biased");
            side.add(sideNode(editor, sideNodes, "Add", base + "_in_Add", List.of(h, biasSideName), hb));
            h = hb;
            String biasMainName = editor.freshName(add.getInput(constant) + "_without_outliers");
            editor.addInitializer(Tensors.ofFloats(biasMainName, new long[] {bias.length}, biasMain));
            editor.mayBeUnused(add.getInput(constant));
            editor.replace(chain.biasAdd(), List.of(add.toBuilder().setInput(constant, biasMainName).build()));
        }
        editor.replace(chain.producer(), List.of(ChannelScaling.withWeight(editor, producer,
                new ChannelScaling.Matrix(w1Main, w1.rows(), w1.cols()), "_without_outliers")));
        renamed.put(chain.source(), h);

        // side: a copy of f on the k channels (per-channel constants sliced to J)
        for (int position : chain.nodes()) {
            NodeProto node = index.node(position);
            NodeProto.Builder copy = node.toBuilder().setName(editor.freshName(base + "_" + node.getOpType()));
            for (int i = 0; i < node.getInputCount(); i++) {
                String input = node.getInput(i);
                if (renamed.containsKey(input)) {
                    copy.setInput(i, renamed.get(input));
                } else if (!input.isEmpty() && model.constant(input).isPresent()) {
                    float[] full = ChannelScaling.perChannelConstant(model, input, w1.cols()).orElseThrow();
                    if (Tensors.elementCount(model.constant(input).get()) > 1) {
                        float[] sliced = new float[k];
                        for (int j = 0; j < k; j++) {
                            sliced[j] = full[outliers[j]];
                        }
                        String slicedName = editor.freshName(input + "_outliers");
                        editor.addInitializer(Tensors.ofFloats(slicedName, new long[] {k}, sliced));
                        copy.setInput(i, slicedName);
                    }
                }
            }
            String out = editor.freshName(node.getOutput(0) + "_outliers");
            renamed.put(node.getOutput(0), out);
            copy.setOutput(0, out);
            side.add(copy.build());
            sideNodes.add(copy.getName());
        }

        // side: f(.) @ W2[J, :]; main: W2[J, :] = 0
        ChannelScaling.Matrix w2 = ChannelScaling.weight(model, target);
        float[] w2Side = new float[k * w2.cols()];
        float[] w2Main = w2.values().clone();
        for (int j = 0; j < k; j++) {
            System.arraycopy(w2.values(), outliers[j] * w2.cols(), w2Side, j * w2.cols(), w2.cols());
            Arrays.fill(w2Main, outliers[j] * w2.cols(), (outliers[j] + 1) * w2.cols(), 0f);
        }
        String w2SideName = editor.freshName(base + "_out_weight");
        editor.addInitializer(Tensors.ofFloats(w2SideName, new long[] {k, w2.cols()}, w2Side));
        String y = editor.freshName(base + "_out");
        side.add(sideNode(editor, sideNodes, "MatMul", base + "_out_MatMul", List.of(renamed.get(activation), w2SideName), y));
        editor.insertBefore(consumer, side);

        // add the side result after the consumer's bias Add when there is one, so ONNX Runtime still folds that bias
        String product = target.getOutput(0);
        List<Integer> readers = index.consumersOf(product);
        int after = consumer;
        String sum = product;
        if (readers.size() == 1 && !index.isGraphOutput(product) && ChannelScaling.isDefault(index.node(readers.get(0)), "Add")
                && ChannelScaling.constantInput(model, index.node(readers.get(0))) >= 0 && !editor.isReplaced(readers.get(0))) {
            after = readers.get(0);
            sum = index.node(after).getOutput(0);
        }
        String partial = editor.freshName(sum + "_without_outliers");
        NodeProto main = ChannelScaling.withWeight(editor, target, new ChannelScaling.Matrix(w2Main, w2.rows(), w2.cols()), "_without_outliers");
        List<NodeProto> join = joinSide(editor, sideNodes, base, sum, partial, y);
        if (after == consumer) {
            List<NodeProto> nodes = new ArrayList<>(List.of(main.toBuilder().setOutput(0, partial).build()));
            nodes.addAll(join);
            editor.replace(consumer, nodes);
        } else {
            editor.replace(consumer, List.of(main));
            List<NodeProto> nodes = new ArrayList<>(List.of(index.node(after).toBuilder().setOutput(0, partial).build()));
            nodes.addAll(join);
            editor.replace(after, nodes);
        }
    }

    /**
     * Adds the side result {@code y} to {@code partial}, producing {@code sum}. When {@code sum} only feeds another
     * Add (a residual connection), that Add becomes one three-input Sum: a pass over the activation saved.
     */
    private static List<NodeProto> joinSide(GraphEditor editor, Set<String> sideNodes, String base, String sum, String partial, String y) {
        GraphIndex index = editor.index();
        List<Integer> readers = index.consumersOf(sum);
        if (readers.size() == 1 && !index.isGraphOutput(sum) && !editor.isReplaced(readers.get(0))) {
            int position = readers.get(0);
            NodeProto residual = index.node(position);
            if (ChannelScaling.isDefault(residual, "Add") && residual.getInputCount() == 2 && !residual.getInput(0).equals(residual.getInput(1))
                    && editor.model().constant(residual.getInput(0)).isEmpty() && editor.model().constant(residual.getInput(1)).isEmpty()) {
                String other = residual.getInput(0).equals(sum) ? residual.getInput(1) : residual.getInput(0);
                String name = editor.freshName(Graphs.nodeLabel(residual) + "_with_outliers");
                sideNodes.add(name);
                editor.replace(position, List.of(Nodes.node("Sum", name, List.of(partial, y, other), residual.getOutputList())));
                // 'sum' is no longer produced: its readers now take the parts directly
                return List.of();
            }
        }
        return List.of(sideNode(editor, sideNodes, "Add", base + "_Add", List.of(partial, y), sum));
    }

    private static NodeProto sideNode(GraphEditor editor, Set<String> sideNodes, String op, String name, List<String> inputs, String output) {
        String fresh = editor.freshName(name);
        sideNodes.add(fresh);
        return Nodes.node(op, fresh, inputs, List.of(output));
    }
}
