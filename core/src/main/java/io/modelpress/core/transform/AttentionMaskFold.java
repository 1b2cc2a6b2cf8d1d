package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ShapeInference;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Folds the additive attention mask and the score scale of encoder self-attention into the Q.K product, an exact
 * float rewrite. BERT-style exports compute {@code Softmax(MatMul(Q, K^T) / c + mask)}, where the mask [batch, 1, 1,
 * keys] is 0 or a large negative number per key: the Div and the Add are two passes over the largest tensor of the
 * layer, [batch, heads, queries, keys]. Give every head of Q one more column, always 1 (a zero weight column whose
 * bias is 1, so the Q projection makes it for free) and every head of K one more column holding the mask; the product
 * then adds the mask itself, and 1/c folds into Q's weights and bias. What is left is one Concat over K, a tensor
 * {@code keys / head size} times smaller than the scores.
 *
 * <p>Only the exact pattern is rewritten (Q from a MatMul with constant weights plus a constant bias, reshaped by a
 * constant [.., heads, head size] and transposed [0, 2, 1, 3]; K reshaped and transposed [0, 2, 3, 1]; a scalar
 * scale; a mask of shape [batch, 1, 1, keys] measured by a shape probe); anything else is left alone.
 */
public final class AttentionMaskFold implements Pass.WithoutOptions {
    public static final String NAME = "attention_masks";
    private static final long PROBE_BATCH = 7;
    private static final long PROBE_SEQUENCE = 11;

    @Override
    public String name() {
        return NAME;
    }


    /**
     * Changes: the attention blocks rewritten (nodes then re-sorted). The note says the outputs were checked unchanged:
     * the rewrite is exact by construction, and the modes run it inside {@link ExactRewrite#keepIfExact}.
     */
    @Override
    public PassResult apply(OnnxModel model) {
        int folded = fold(model);
        if (folded > 0) {
            GraphEditor.sortTopologically(model);
        }
        return PassResult.changed(NAME, folded, folded > 0
                ? folded + " attention masks and score scales folded into the Q.K products (outputs checked unchanged)" : null);
    }

    /** Rewrites every matching attention block in place; returns how many. */
    private static int fold(OnnxModel model) {
        Optional<String[]> axes = SequenceMajorLayout.tokenAxes(model);
        if (axes.isEmpty()) {
            return 0;
        }
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < index.nodes().size(); i++) {
            match(model, index, i).ifPresent(blocks::add);
        }
        if (blocks.isEmpty()) {
            return 0;
        }
        Set<String> wanted = new HashSet<>();
        blocks.forEach(b -> {
            wanted.add(b.mask);
            wanted.add(index.node(b.keyReshape).getOutput(0));
        });
        ShapeInference.Shapes shapes;
        try {
            shapes = ShapeInference.infer(model, wanted, Map.of(axes.get()[0], PROBE_BATCH, axes.get()[1], PROBE_SEQUENCE));
        } catch (ModelPressException e) {
            return 0;
        }
        Map<String, String> maskColumns = new HashMap<>();
        int folded = 0;
        for (Block block : blocks) {
            String key = index.node(block.keyReshape).getOutput(0);
            if (!shapes.knows(block.mask) || !shapes.knows(key)
                    || !Arrays.equals(shapes.of(block.mask), new long[] {PROBE_BATCH, 1, 1, PROBE_SEQUENCE})
                    || !Arrays.equals(shapes.of(key), new long[] {PROBE_BATCH, PROBE_SEQUENCE, block.query.heads, block.query.headSize})) {
                continue;
            }
            rewrite(editor, block, maskColumns);
            folded++;
        }
        editor.apply();
        return folded;
    }

    /** The nodes (positions) of one attention block and what the rewrite needs to know about it. */
    private record Block(int softmax, int add, int scale, float factor, int scores, int keyTranspose, int queryReshape,
                         int keyReshape, String mask, Query query) {
    }

    private static Optional<Block> match(OnnxModel model, GraphIndex index, int softmax) {
        NodeProto sm = index.node(softmax);
        // an explicit last axis: before opset 13 a missing axis meant 1, over the flattened trailing dimensions
        long axis = Nodes.attribute(sm, "axis").isPresent() ? Nodes.intAttribute(sm, "axis", 0) : 0;
        if (!ChannelScaling.isDefault(sm, "Softmax") || (axis != -1 && axis != 3)) {
            return Optional.empty();
        }
        Optional<Integer> add = onlyFeeding(index, sm.getInput(0), "Add");
        if (add.isEmpty()) {
            return Optional.empty();
        }
        NodeProto addNode = index.node(add.get());
        for (int side = 0; side < 2; side++) {
            String scoresValue = addNode.getInput(side);
            String mask = addNode.getInput(1 - side);
            int scale = -1;
            float factor = 1;
            Optional<Integer> producer = index.producerOf(scoresValue);
            if (producer.isEmpty() || index.consumersOf(scoresValue).size() != 1) {
                continue;
            }
            NodeProto node = index.node(producer.get());
            if (ChannelScaling.isDefault(node, "Div") || ChannelScaling.isDefault(node, "Mul")) {
                boolean div = node.getOpType().equals("Div");
                int constantSide = scalar(model, node.getInput(1)).isPresent() ? 1 : div ? -1 : scalar(model, node.getInput(0)).isPresent() ? 0 : -1;
                if (constantSide < 0) {
                    continue;
                }
                float c = scalar(model, node.getInput(constantSide)).get();
                factor = div ? 1 / c : c;
                if (!Float.isFinite(factor) || factor == 0) {
                    continue;
                }
                scale = producer.get();
                producer = index.producerOf(node.getInput(1 - constantSide));
                if (producer.isEmpty() || index.consumersOf(node.getInput(1 - constantSide)).size() != 1) {
                    continue;
                }
                node = index.node(producer.get());
            }
            if (!ChannelScaling.isDefault(node, "MatMul")) {
                continue;
            }
            int scores = producer.get();
            Optional<Integer> qt = onlyFeeding(index, node.getInput(0), "Transpose");
            Optional<Integer> kt = onlyFeeding(index, node.getInput(1), "Transpose");
            if (qt.isEmpty() || kt.isEmpty() || !hasPerm(index.node(qt.get()), 0, 2, 1, 3) || !hasPerm(index.node(kt.get()), 0, 2, 3, 1)) {
                continue;
            }
            Optional<Integer> qr = onlyFeeding(index, index.node(qt.get()).getInput(0), "Reshape");
            Optional<Integer> kr = onlyFeeding(index, index.node(kt.get()).getInput(0), "Reshape");
            if (qr.isEmpty() || kr.isEmpty()) {
                continue;
            }
            Optional<Query> query = queryProjection(model, index, qr.get());
            if (query.isPresent()) {
                return Optional.of(new Block(softmax, add.get(), scale, factor, scores, kt.get(), qr.get(), kr.get(), mask, query.get()));
            }
        }
        return Optional.empty();
    }

    /** Q's projection: the bias Add and MatMul (positions), the target's Concat and its head-size input (-1: a constant target). */
    private record Query(int biasAdd, int matMul, int shapeNode, int shapeInput, int heads, int headSize, String weight,
                         String bias) {
    }

    /**
     * Q = Reshape(Add(MatMul(x, W), b), [.., heads, head size]) with W [in, heads * head size] and b constant, the
     * target shape a constant or a Concat ending in two constants; other readers of the projection may only be Shape
     * nodes (they read batch and sequence sizes, which do not change).
     */
    private static Optional<Query> queryProjection(OnnxModel model, GraphIndex index, int reshape) {
        NodeProto reshapeNode = index.node(reshape);
        String projection = reshapeNode.getInput(0);
        Optional<Integer> addPosition = index.producerOf(projection);
        if (addPosition.isEmpty() || !ChannelScaling.isDefault(index.node(addPosition.get()), "Add")
                || index.isGraphOutput(projection)) {
            return Optional.empty();
        }
        for (int consumer : index.consumersOf(projection)) {
            if (consumer != reshape && !ChannelScaling.isDefault(index.node(consumer), "Shape")) {
                return Optional.empty();
            }
        }
        NodeProto addNode = index.node(addPosition.get());
        int biasSide = model.constant(addNode.getInput(1)).isPresent() ? 1 : model.constant(addNode.getInput(0)).isPresent() ? 0 : -1;
        if (biasSide < 0) {
            return Optional.empty();
        }
        Optional<Integer> matMul = index.producerOf(addNode.getInput(1 - biasSide));
        if (matMul.isEmpty() || !ChannelScaling.isDefault(index.node(matMul.get()), "MatMul")
                || index.consumersOf(addNode.getInput(1 - biasSide)).size() != 1 || index.isGraphOutput(addNode.getInput(1 - biasSide))) {
            return Optional.empty();
        }
        NodeProto mm = index.node(matMul.get());
        Optional<TensorProto> weight = model.constant(mm.getInput(1));
        Optional<TensorProto> bias = model.constant(addNode.getInput(biasSide));
        if (weight.isEmpty() || bias.isEmpty() || weight.get().getDataType() != TensorProto.DataType.FLOAT_VALUE
                || bias.get().getDataType() != TensorProto.DataType.FLOAT_VALUE || Tensors.dims(weight.get()).length != 2) {
            return Optional.empty();
        }
        long columns = Tensors.dims(weight.get())[1];
        if (!Arrays.equals(Tensors.dims(bias.get()), new long[] {columns})) {
            return Optional.empty();
        }
        // the target shape: its last two entries give heads and head size
        String target = reshapeNode.getInput(1);
        long[] constantTarget = model.constant(target).map(model::longs).orElse(null);
        int shapeNode = -1;
        int shapeInput = -1;
        long heads;
        long headSize;
        if (constantTarget != null && constantTarget.length == 4) {
            heads = constantTarget[2];
            headSize = constantTarget[3];
        } else {
            Optional<Integer> concat = index.producerOf(target);
            if (concat.isEmpty() || !ChannelScaling.isDefault(index.node(concat.get()), "Concat")
                    || index.node(concat.get()).getInputCount() != 4 || index.consumersOf(target).size() != 1) {
                return Optional.empty();
            }
            NodeProto concatNode = index.node(concat.get());
            long[] h = model.constant(concatNode.getInput(2)).map(model::longs).orElse(null);
            long[] d = model.constant(concatNode.getInput(3)).map(model::longs).orElse(null);
            if (h == null || d == null || h.length != 1 || d.length != 1) {
                return Optional.empty();
            }
            heads = h[0];
            headSize = d[0];
            shapeNode = concat.get();
            shapeInput = 3;
        }
        if (heads <= 0 || headSize <= 0 || heads * headSize != columns) {
            return Optional.empty();
        }
        return Optional.of(new Query(addPosition.get(), matMul.get(), shapeNode, shapeInput, (int) heads, (int) headSize,
                mm.getInput(1), addNode.getInput(biasSide)));
    }

    private static void rewrite(GraphEditor editor, Block block, Map<String, String> maskColumns) {
        OnnxModel model = editor.model();
        GraphIndex index = editor.index();
        Query query = block.query;
        int heads = query.heads;
        int size = query.headSize;
        int widened = heads * (size + 1);
        TensorProto weightTensor = model.constant(query.weight).orElseThrow();
        float[] w = model.floats(weightTensor);
        float[] b = model.floats(model.constant(query.bias).orElseThrow());
        int rows = (int) Tensors.dims(weightTensor)[0];
        int columns = heads * size;
        float[] w2 = new float[rows * widened];
        float[] b2 = new float[widened];
        for (int h = 0; h < heads; h++) {
            for (int d = 0; d < size; d++) {
                int from = h * size + d;
                int to = h * (size + 1) + d;
                for (int r = 0; r < rows; r++) {
                    w2[r * widened + to] = w[r * columns + from] * block.factor;
                }
                b2[to] = b[from] * block.factor;
            }
            b2[h * (size + 1) + size] = 1;
        }
        String weight = editor.freshName(query.weight + "_mask_folded");
        String bias = editor.freshName(query.bias + "_mask_folded");
        editor.addInitializer(Tensors.ofFloats(weight, new long[] {rows, widened}, w2));
        editor.addInitializer(Tensors.ofFloats(bias, new long[] {widened}, b2));
        editor.mayBeUnused(query.weight);
        editor.mayBeUnused(query.bias);
        editor.replace(query.matMul, List.of(index.node(query.matMul).toBuilder().setInput(1, weight).build()));
        NodeProto biasAdd = index.node(query.biasAdd);
        int biasSide = biasAdd.getInput(0).equals(query.bias) ? 0 : 1;
        editor.replace(query.biasAdd, List.of(biasAdd.toBuilder().setInput(biasSide, bias).build()));

        // the Q reshape makes heads of size + 1
        NodeProto reshape = index.node(block.queryReshape);
        if (query.shapeNode < 0) {
            long[] target = model.longs(model.constant(reshape.getInput(1)).orElseThrow()).clone();
            target[3] = size + 1;
            String name = editor.freshName(reshape.getInput(1) + "_mask_folded");
            editor.addInitializer(Tensors.ofLongs(name, new long[] {4}, target));
            editor.mayBeUnused(reshape.getInput(1));
            editor.replace(block.queryReshape, List.of(reshape.toBuilder().setInput(1, name).build()));
        } else {
            NodeProto concat = index.node(query.shapeNode);
            String name = editor.freshName(concat.getInput(query.shapeInput) + "_mask_folded");
            editor.addInitializer(Tensors.ofLongs(name, new long[] {1}, new long[] {size + 1}));
            editor.mayBeUnused(concat.getInput(query.shapeInput));
            editor.replace(query.shapeNode, List.of(concat.toBuilder().setInput(query.shapeInput, name).build()));
        }

        // K gets the mask as its last column: [batch, 1, 1, keys] -> [batch, heads, 1, keys] -> [batch, keys, heads, 1]
        // (Expand before Transpose: the sequence-major layout then folds its swap into the Transpose's permutation)
        NodeProto keyTranspose = index.node(block.keyTranspose);
        String column = maskColumns.get(block.mask + "#" + heads);
        if (column == null) {
            String perHead = editor.freshName(block.mask + "_per_head");
            String repeats = editor.freshName(block.mask + "_heads");
            column = editor.freshName(block.mask + "_key_column");
            editor.addInitializer(Tensors.ofLongs(repeats, new long[] {4}, new long[] {1, heads, 1, 1}));
            editor.insertBefore(block.keyTranspose, List.of(
                    Nodes.node("Expand", editor.freshName(block.mask + "_per_head"), List.of(block.mask, repeats), List.of(perHead)),
                    Nodes.node("Transpose", editor.freshName(block.mask + "_key_column"), List.of(perHead), List.of(column),
                            Nodes.attr("perm", 0L, 3L, 1L, 2L))));
            maskColumns.put(block.mask + "#" + heads, column);
        }
        String masked = editor.freshName(keyTranspose.getInput(0) + "_with_mask");
        editor.replace(block.keyTranspose, List.of(
                Nodes.node("Concat", editor.freshName(keyTranspose.getName() + "_mask_column"),
                        List.of(keyTranspose.getInput(0), column), List.of(masked), Nodes.attr("axis", -1L)),
                keyTranspose.toBuilder().setInput(0, masked).build()));

        // Softmax reads the product directly
        String scores = index.node(block.scores).getOutput(0);
        editor.replace(block.add, List.of());
        if (block.scale >= 0) {
            editor.replace(block.scale, List.of());
        }
        editor.replace(block.softmax, List.of(index.node(block.softmax).toBuilder().setInput(0, scores).build()));
        for (String input : index.node(block.add).getInputList()) {
            editor.mayBeUnused(input);
        }
        if (block.scale >= 0) {
            index.node(block.scale).getInputList().forEach(editor::mayBeUnused);
        }
    }

    /** The node of type {@code opType} that produces {@code value}, when it is the value's only reader's producer. */
    private static Optional<Integer> onlyFeeding(GraphIndex index, String value, String opType) {
        Optional<Integer> producer = index.producerOf(value);
        if (producer.isEmpty() || !ChannelScaling.isDefault(index.node(producer.get()), opType)
                || index.consumersOf(value).size() != 1 || index.isGraphOutput(value)) {
            return Optional.empty();
        }
        NodeProto node = index.node(producer.get());
        for (String output : node.getOutputList()) {
            if (index.isGraphOutput(output)) {
                return Optional.empty();
            }
        }
        return producer;
    }

    private static boolean hasPerm(NodeProto transpose, long... perm) {
        return Nodes.intsAttribute(transpose, "perm").map(p -> Arrays.equals(p, perm)).orElse(false);
    }

    private static Optional<Float> scalar(OnnxModel model, String value) {
        return model.constant(value)
                .filter(t -> t.getDataType() == TensorProto.DataType.FLOAT_VALUE && Tensors.elementCount(t) == 1)
                .map(t -> model.floats(t)[0]);
    }
}
