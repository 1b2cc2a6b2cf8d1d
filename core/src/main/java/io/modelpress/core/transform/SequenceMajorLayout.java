package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ShapeInference;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Stores token activations sequence-major ([sequence, batch, ...]) instead of batch-major ([batch, sequence, ...]).
 * Every token-wise operator (embedding lookups, MatMuls with 2-D weights, LayerNorm, elementwise steps, run-time
 * quantization) is indifferent to the order of the two leading axes, but attention is not: a batch-major encoder
 * transposes Q, K and V to [batch, heads, sequence, head] before its two batched products, which at small inputs
 * costs as much as several integer kernels. In sequence-major layout the same products read Q, K and V in place:
 * the transposes become {@code perm = [1, 2, 0, 3]}-shaped, which ONNX Runtime folds into its batched MatMul as
 * strides (FusedMatMul transBatch), as Megatron-style [s, b, h] layouts do. The attention output keeps one transpose
 * per layer; the inputs and outputs of the graph get one each, so the model's interface does not change.
 *
 * <p>The rewrite is exact (it only moves data) and local: each node is either indifferent to the swap (its inputs and
 * outputs are swapped together), adapted (a Transpose's permutation, a Reshape's target, a Shape read back in the
 * original order), or left as it was, with a Transpose restoring the original layout in front of it. Which values are
 * token activations is read from shapes measured with two distinct prime sizes for the batch and sequence axes. It is
 * applied only when it removes more transposes than it adds; the caller checks the result against the original model.
 */
public final class SequenceMajorLayout implements Pass.WithoutOptions {
    public static final String NAME = "layout";

    /**
     * Batch and sequence sizes of the two shape probes. An axis counts as the batch (sequence) axis only when it takes
     * both probes' batch (sequence) size, so a weight dimension that happens to equal one of them is not mistaken.
     */
    private static final long[] BATCH = {7, 13};
    private static final long[] SEQUENCE = {11, 17};

    private static final Set<String> ELEMENTWISE = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Tanh", "Relu",
            "Sigmoid", "Cast", "Neg", "Exp", "Log", "Abs", "Reciprocal", "Identity", "Where", "Gelu", "Softplus", "Clip",
            "DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear", "Equal", "Not", "Max", "Min");
    /** Operators that work along one axis (the attribute {@code axis}): token-wise when it is not a leading one. */
    private static final Set<String> AXIS_OPERATORS = Set.of("LayerNormalization", "Softmax", "LogSoftmax", "Split", "Concat");
    private static final Set<String> REDUCTIONS = Set.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
            "ReduceSumSquare", "ReduceL2");

    @Override
    public String name() {
        return NAME;
    }


    /** Changes: the attention transposes that now fold into the batched products (0 with the model as it was). */
    @Override
    public PassResult apply(OnnxModel model) {
        Result result = rewrite(model);
        return PassResult.changed(NAME, result.applied() ? result.attentionTransposes() : 0, describe(result));
    }

    /** What the rewrite did; {@code skippedReason} is set (and the model unchanged) when it did nothing. */
    record Result(int attentionTransposes, int addedTransposes, String skippedReason) {
        static Result skipped(String why) {
            return new Result(0, 0, why);
        }

        boolean applied() {
            return skippedReason == null;
        }
    }

    private static Result rewrite(OnnxModel model) {
        Optional<String[]> axes = tokenAxes(model);
        if (axes.isEmpty()) {
            return Result.skipped("no input of shape [batch, sequence] with both sizes left open");
        }
        Set<String> values = new LinkedHashSet<>();
        for (NodeProto node : model.graph().getNodeList()) {
            values.addAll(node.getOutputList());
        }
        values.remove("");
        List<ShapeInference.Shapes> probes = new ArrayList<>();
        try {
            for (int probe = 0; probe < 2; probe++) {
                probes.add(ShapeInference.infer(model, values, Map.of(axes.get()[0], BATCH[probe], axes.get()[1], SEQUENCE[probe])));
            }
        } catch (ModelPressException e) {
            return Result.skipped("the token activations' shapes could not be measured (" + e.getMessage() + ")");
        }
        return new Rewrite(model, probes.get(0), probes.get(1)).run();
    }

    /** Names of the batch and sequence dimensions: the two open dims of the first 2-D integer input that has them. */
    public static Optional<String[]> tokenAxes(OnnxModel model) {
        for (ValueShape input : model.inputs()) {
            if (input.dims().size() == 2 && input.type() != null && !input.type().isFloatingPoint()
                    && !input.dims().get(0).isFixed() && !input.dims().get(1).isFixed()
                    && input.dims().get(0).param() != null && !input.dims().get(0).param().isEmpty()
                    && input.dims().get(1).param() != null && !input.dims().get(1).param().isEmpty()
                    && !input.dims().get(0).param().equals(input.dims().get(1).param())) {
                return Optional.of(new String[] {input.dims().get(0).param(), input.dims().get(1).param()});
            }
        }
        return Optional.empty();
    }

    private static final class Rewrite {
        private final OnnxModel model;
        /** Shapes of the first probe, and of the second one (the same model at other batch and sequence sizes). */
        private final ShapeInference.Shapes shapes;
        private final ShapeInference.Shapes check;
        private final GraphEditor editor;
        private final GraphIndex index;
        /** Value -> the name holding it sequence-major (the value's own name where its producer now writes that). */
        private final Map<String, String> swapped = new HashMap<>();
        /** Swapped-in-place value -> a batch-major copy for operators that need the original layout. */
        private final Map<String, String> restored = new HashMap<>();
        /** Initializers the rewrite needs, added only once it is decided to apply it. */
        private final List<TensorProto> newConstants = new ArrayList<>();
        private int attentionTransposes;
        private int addedTransposes;
        private String abortReason;

        Rewrite(OnnxModel model, ShapeInference.Shapes shapes, ShapeInference.Shapes check) {
            this.model = model;
            this.shapes = shapes;
            this.check = check;
            this.editor = new GraphEditor(model);
            this.index = editor.index();
        }

        Result run() {
            // positions in list order: the quantizer keeps the node list topologically sorted
            for (int position = 0; position < index.nodes().size() && abortReason == null; position++) {
                visit(position);
            }
            if (abortReason != null || attentionTransposes == 0 || addedTransposes >= attentionTransposes) {
                // every edit so far is pending in the editor or in newConstants: the model is as it was
                return Result.skipped(abortReason != null ? abortReason : attentionTransposes == 0
                        ? "no attention transposes that a sequence-major layout would fold into the batched products"
                        : "it would add " + addedTransposes + " transposes to save " + attentionTransposes);
            }
            newConstants.forEach(editor::addInitializer);
            editor.apply();
            removeDeadNodes();
            dropStaleShapes();
            return new Result(attentionTransposes, addedTransposes, null);
        }

        private void visit(int position) {
            NodeProto node = index.node(position);
            for (String implicit : GraphIndex.implicitInputs(node)) {
                if (isSwappedInPlace(implicit)) {
                    abortReason = "a subgraph of " + Graphs.nodeLabel(node) + " reads token activations";
                    return;
                }
            }
            boolean readsSwapped = node.getInputList().stream().anyMatch(this::isSwappedInPlace);
            boolean writesTokenMajor = node.getOutputList().stream().anyMatch(this::isTokenMajor);
            if (!readsSwapped && !writesTokenMajor) {
                return;
            }
            boolean adapted = ModelValidator.isDefaultDomain(node.getDomain())
                    && (rewriteTranspose(position, node) || rewriteTokenWise(position, node)
                        || rewriteReshape(position, node) || rewriteShape(position, node));
            if (!adapted) {
                keepOriginalLayout(position, node);
            }
        }

        // ---- adapted operators ----

        /** y = transpose(x, perm) with x and/or y swapped: the permutation absorbs the swap. */
        private boolean rewriteTranspose(int position, NodeProto node) {
            if (!node.getOpType().equals("Transpose")) {
                return false;
            }
            long[] perm = Nodes.intsAttribute(node, "perm").orElse(null);
            String input = node.getInput(0);
            boolean in = canSwap(input);
            boolean out = isTokenMajor(node.getOutput(0));
            if (perm == null) {
                return false;
            }
            long[] composed = new long[perm.length];
            for (int i = 0; i < perm.length; i++) {
                long source = perm[out && i < 2 ? 1 - i : i];
                composed[i] = in && source < 2 ? 1 - source : source;
            }
            NodeProto.Builder rewritten = node.toBuilder().setInput(0, in ? swappedName(position, input) : input)
                    .clearAttribute().addAttribute(Nodes.attr("perm", composed));
            if (in && !out && foldsIntoBatchedProduct(composed, node.getOutput(0))) {
                attentionTransposes++;
            }
            finish(position, List.of(), rewritten);
            return true;
        }

        /** ONNX Runtime folds a Transpose into the MatMul it feeds when the moved axis 0 lands among the batch axes. */
        private boolean foldsIntoBatchedProduct(long[] perm, String output) {
            int rank = perm.length;
            if (rank < 3 || perm[0] != 1) {
                return false;
            }
            for (int i = 0; i < rank - 3; i++) {
                if (perm[i] + 1 != perm[i + 1]) {
                    return false;
                }
            }
            boolean lastAxisStaysInner = perm[rank - 1] == rank - 1 || perm[rank - 2] == rank - 1;
            List<NodeProto> consumers = index.consumerNodes(output);
            return lastAxisStaysInner && !consumers.isEmpty() && !index.isGraphOutput(output)
                    && consumers.stream().allMatch(c -> c.getOpType().equals("MatMul") && ModelValidator.isDefaultDomain(c.getDomain()));
        }

        /** Operators that work along trailing axes only: the swapped layout flows through them. */
        private boolean rewriteTokenWise(int position, NodeProto node) {
            String op = node.getOpType();
            List<String> inputs = node.getInputList();
            if (inputs.isEmpty() || !isTokenMajor(node.getOutput(0))) {
                return false;
            }
            int rank = shapes.of(node.getOutput(0)).length;
            List<Integer> alignInputs = new ArrayList<>();
            if (ELEMENTWISE.contains(op) || AXIS_OPERATORS.contains(op) || REDUCTIONS.contains(op)) {
                if (!trailingAxesOnly(node, rank)) {
                    return false;
                }
                for (int i = 0; i < inputs.size(); i++) {
                    String input = inputs.get(i);
                    if (input.isEmpty() || canSwap(input)) {
                        continue;
                    }
                    long[] shape = shapes.of(input);
                    if (shape == null || (shape.length == rank && !unitOrTokenLeadingAxes(input))) {
                        return false;
                    }
                    if (shape.length == rank && !(axisIs(input, 0, 1, 1) && axisIs(input, 1, 1, 1))) {
                        alignInputs.add(i);
                    } else if (shape.length != rank && shape.length > rank - 2) {
                        return false;
                    }
                }
            } else if (op.equals("MatMul") || op.equals("MatMulInteger") || op.equals("Gather")) {
                int token = op.equals("Gather") ? 1 : 0;
                int other = 1 - token;
                long[] otherShape = shapes.of(inputs.get(other));
                if (!canSwap(inputs.get(token)) || otherShape == null || isSwappedInPlace(inputs.get(other))
                        || (op.equals("Gather") ? Nodes.intAttribute(node, "axis", 0) != 0 : otherShape.length != 2)) {
                    return false;
                }
            } else {
                return false;
            }
            NodeProto.Builder rewritten = node.toBuilder();
            for (int i = 0; i < inputs.size(); i++) {
                String name = inputs.get(i).isEmpty() ? null : swappedName(position, inputs.get(i));
                if (name != null) {
                    rewritten.setInput(i, name);
                }
            }
            List<NodeProto> before = new ArrayList<>();
            for (int i : alignInputs) {
                String copy = editor.freshName(inputs.get(i) + "_seq_major");
                before.add(swap(inputs.get(i), copy));
                rewritten.setInput(i, copy);
                addedTransposes++;
            }
            finish(position, before, rewritten);
            return true;
        }

        /** A Reshape that keeps both leading axes: its target becomes [0, 0, rest...], valid in either layout. */
        private boolean rewriteReshape(int position, NodeProto node) {
            if (!node.getOpType().equals("Reshape") || !canSwap(node.getInput(0))
                    || !isTokenMajor(node.getOutput(0)) || Nodes.intAttribute(node, "allowzero", 0) != 0) {
                return false;
            }
            long[] out = shapes.of(node.getOutput(0));
            long[] target = new long[out.length];
            for (int i = 2; i < out.length; i++) {
                if (!axisIs(node.getOutput(0), i, out[i], out[i])) {
                    return false; // a trailing axis that depends on the batch or sequence size
                }
                target[i] = out[i];
            }
            String shapeName = editor.freshName(node.getOutput(0) + "_seq_major_shape");
            newConstants.add(Tensors.ofLongs(shapeName, new long[] {target.length}, target));
            finish(position, List.of(), node.toBuilder().setInput(0, swappedName(position, node.getInput(0))).setInput(1, shapeName));
            return true;
        }

        /** Shape of a swapped value, read back in the original axis order. */
        private boolean rewriteShape(int position, NodeProto node) {
            if (!node.getOpType().equals("Shape") || node.getAttributeCount() > 0 || !isSwappedInPlace(node.getInput(0))) {
                return false;
            }
            long[] order = swapPermutation(shapes.of(node.getInput(0)).length);
            String raw = editor.freshName(node.getOutput(0) + "_seq_major");
            String orderName = editor.freshName(node.getOutput(0) + "_axis_order");
            newConstants.add(Tensors.ofLongs(orderName, new long[] {order.length}, order));
            editor.replace(position, List.of(node.toBuilder().setOutput(0, raw).build(),
                    Nodes.node("Gather", editor.freshName(node.getName() + "_axis_order"), List.of(raw, orderName),
                            List.of(node.getOutput(0)), Nodes.attr("axis", 0L))));
            return true;
        }

        /** Replaces the node; its token-major outputs are now sequence-major (graph outputs get a Transpose back). */
        private void finish(int position, List<NodeProto> before, NodeProto.Builder node) {
            List<NodeProto> after = new ArrayList<>();
            for (int i = 0; i < node.getOutputCount(); i++) {
                String output = node.getOutput(i);
                if (!isTokenMajor(output)) {
                    continue;
                }
                if (index.isGraphOutput(output)) {
                    String internal = editor.freshName(output + "_seq_major");
                    node.setOutput(i, internal);
                    after.add(swap(internal, output));
                    swapped.put(output, internal);
                    addedTransposes++;
                } else {
                    swapped.put(output, output);
                }
            }
            editor.insertBefore(position, before);
            List<NodeProto> replacement = new ArrayList<>();
            replacement.add(node.build());
            replacement.addAll(after);
            editor.replace(position, replacement);
        }

        // ---- boundaries ----

        /** Any other operator sees the original layout: swapped inputs are transposed back, token outputs copied. */
        private void keepOriginalLayout(int position, NodeProto node) {
            NodeProto.Builder rewritten = node.toBuilder();
            List<NodeProto> before = new ArrayList<>();
            for (int i = 0; i < node.getInputCount(); i++) {
                String input = node.getInput(i);
                if (!isSwappedInPlace(input)) {
                    continue;
                }
                String back = restored.get(input);
                if (back == null) {
                    back = editor.freshName(input + "_batch_major");
                    before.add(swap(input, back));
                    restored.put(input, back);
                    addedTransposes++;
                }
                rewritten.setInput(i, back);
            }
            List<NodeProto> replacement = new ArrayList<>();
            replacement.add(rewritten.build());
            for (String output : node.getOutputList()) {
                if (isTokenMajor(output) && !index.consumersOf(output).isEmpty()) {
                    String copy = editor.freshName(output + "_seq_major");
                    replacement.add(swap(output, copy));
                    swapped.put(output, copy);
                    addedTransposes++;
                }
            }
            editor.insertBefore(position, before);
            editor.replace(position, replacement);
        }

        // ---- helpers ----

        /** The sequence-major name of a value; graph inputs get a Transpose copy when first asked. Null if none. */
        private String swappedName(int position, String value) {
            String name = swapped.get(value);
            if (name == null && index.isGraphInput(value) && isTokenMajor(value)) {
                name = editor.freshName(value + "_seq_major");
                editor.insertBefore(position, List.of(swap(value, name)));
                swapped.put(value, name);
                addedTransposes++;
            }
            return name;
        }

        /** True when the value has (or, for a graph input, can get) a sequence-major name. */
        private boolean canSwap(String value) {
            return swapped.containsKey(value) || (index.isGraphInput(value) && isTokenMajor(value));
        }

        /** True when the value's own name now holds it sequence-major. */
        private boolean isSwappedInPlace(String value) {
            return value.equals(swapped.get(value));
        }

        private boolean isTokenMajor(String value) {
            return axisIs(value, 0, BATCH[0], BATCH[1]) && axisIs(value, 1, SEQUENCE[0], SEQUENCE[1]);
        }

        /** [1, sequence, ...], [batch, 1, ...] or [batch, sequence, ...]: lines up with a swapped operand once swapped. */
        private boolean unitOrTokenLeadingAxes(String value) {
            return (axisIs(value, 0, 1, 1) || axisIs(value, 0, BATCH[0], BATCH[1]))
                    && (axisIs(value, 1, 1, 1) || axisIs(value, 1, SEQUENCE[0], SEQUENCE[1]));
        }

        /** Axis {@code axis} of the value has size {@code first} in the first probe and {@code second} in the other. */
        private boolean axisIs(String value, int axis, long first, long second) {
            long[] a = value.isEmpty() ? null : shapes.of(value);
            long[] b = value.isEmpty() ? null : check.of(value);
            return a != null && b != null && a.length == b.length && a.length > axis && a[axis] == first && b[axis] == second;
        }

        /** The node's axis attributes (if any) name only axes from 2 on. */
        private boolean trailingAxesOnly(NodeProto node, int rank) {
            String op = node.getOpType();
            if (AXIS_OPERATORS.contains(op)) {
                // Softmax's default axis changed with opset 13 (1 before, -1 after): only an explicit one is trusted
                if (op.endsWith("Softmax") && Nodes.attribute(node, "axis").isEmpty()) {
                    return false;
                }
                long axis = Nodes.intAttribute(node, "axis", op.equals("LayerNormalization") ? -1 : 0);
                return (axis < 0 ? axis + rank : axis) >= 2;
            }
            if (op.equals("DequantizeLinear") || op.equals("QuantizeLinear")) {
                long[] scale = shapes.of(node.getInput(1));
                long axis = Nodes.intAttribute(node, "axis", 1);
                return scale != null && (scale.length == 0 || (axis < 0 ? axis + rank : axis) >= 2);
            }
            if (REDUCTIONS.contains(op)) {
                Optional<long[]> axes = Nodes.intsAttribute(node, "axes");
                if (axes.isEmpty() && node.getInputCount() > 1) {
                    axes = model.constant(node.getInput(1)).map(t -> Tensors.toLongs(t, model.externalData()));
                }
                if (axes.isEmpty() || Nodes.intAttribute(node, "keepdims", 1) != 1) {
                    return false;
                }
                for (long axis : axes.get()) {
                    if ((axis < 0 ? axis + rank : axis) < 2) {
                        return false;
                    }
                }
            }
            return true;
        }

        private NodeProto swap(String input, String output) {
            return Nodes.node("Transpose", editor.freshName(output + "_transpose"), List.of(input), List.of(output),
                    Nodes.attr("perm", swapPermutation((shapes.knows(input) ? shapes.of(input) : shapes.of(output)).length)));
        }

        /** Declared shapes of swapped values describe the batch-major layout: drop them (runtimes infer the new ones). */
        private void dropStaleShapes() {
            GraphProto.Builder graph = model.graph();
            for (int i = graph.getValueInfoCount() - 1; i >= 0; i--) {
                if (swapped.containsKey(graph.getValueInfo(i).getName()) && !index.isGraphOutput(graph.getValueInfo(i).getName())) {
                    graph.removeValueInfo(i);
                }
            }
        }

        /** Pure computations left without readers: shape arithmetic for Reshape targets that are constants now, unused copies. */
        private void removeDeadNodes() {
            Set<String> pure = Set.of("Shape", "Gather", "Unsqueeze", "Concat", "Squeeze", "Slice", "Cast", "Transpose");
            GraphEditor.removeDeadNodes(model, node -> ModelValidator.isDefaultDomain(node.getDomain())
                    && (pure.contains(node.getOpType()) || Weights.isConstantNode(node)));
            GraphEditor.removeUnusedConstants(model);
        }
    }

    private static long[] swapPermutation(int rank) {
        long[] perm = new long[rank];
        for (int i = 0; i < rank; i++) {
            perm[i] = i < 2 ? 1 - i : i;
        }
        return perm;
    }

    private static String describe(Result result) {
        return result.applied()
                ? "sequence-major token layout: " + result.attentionTransposes() + " attention transposes now fold into the "
                  + "batched products, " + result.addedTransposes() + " added at the graph's inputs and outputs"
                : "batch-major kept: " + result.skippedReason();
    }
}
