package io.modelpress.core.quantize.dynamic;

import io.modelpress.core.transform.ChannelScaling;

import io.modelpress.core.transform.AttentionMaskFold;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Moves the mask column that {@link AttentionMaskFold} gives every head of K out of a float Concat over K and into K's
 * quantized projection: two uint8 columns appended to the projection's input, a quarter of the bytes of K.
 *
 * <p>The fold leaves {@code K' = Concat(K, m)} per layer, m the additive mask (0 for a kept key, very negative for a
 * masked one) and Q's matching column always 1, so the Q.K product adds m. Where the mask comes from an exporter's
 * {@code (1 - mask) * c} with c at least 1e30 below zero (HuggingFace uses the lowest float), a masked key's exact value
 * does not matter: it only has to be so negative that softmax gives the key exactly zero weight, and every key of a
 * fully masked row must get the same value (the row then averages all keys, as with the original). The projection of
 * the quantized input x (zero point z) computes {@code sum (x - z) * w} exactly in integers; with the two appended
 * columns {@code a = 0} and {@code b = keep ? 0 : 255} and a mask column of W that is +127 on a and -127 on b, z
 * cancels and the sum is 0 for a kept key and -255 * 127 for a masked one, which a huge column scale turns into about
 * {@code -3e29 * x_scale}. The two columns are made once from the existing mask column (Slice, Reshape, Equal, Where) and shared
 * by all layers; each layer adds one Concat over bytes.
 */
final class IntegerMaskColumns implements Pass.WithoutOptions {
    static final String NAME = "mask_columns";
    /** The exporter's mask constant must be at least this negative: far beyond any attention score. */
    static final float MASK_CONSTANT_LIMIT = -1e30f;
    /** Weight scale of the mask column: with |sum| = 255 * 127 it drowns every score for any sane activation scale. */
    static final float MASK_COLUMN_SCALE = 1e25f;

    @Override
    public String name() {
        return NAME;
    }


    /** Changes: the layers rewritten (nodes then re-sorted). */
    @Override
    public PassResult apply(OnnxModel model) {
        int layers = rewriteAll(model);
        if (layers > 0) {
            GraphEditor.sortTopologically(model);
        }
        return PassResult.changed(NAME, layers, layers > 0
                ? layers + " attention masks appended to K's quantized input as two uint8 columns (no float Concat over K)" : null);
    }

    /** The nodes of one layer's K projection, from its MatMulInteger to the Concat that appends the mask column. */
    private record KeyProjection(int matMulInteger, int scaleMul, int biasAdd, int biasSide, int reshape, int concat,
                                 String column, int heads, int headSize) {
    }

    /** Rewrites every matching layer in place; returns how many. */
    private static int rewriteAll(OnnxModel model) {
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        List<KeyProjection> layers = new ArrayList<>();
        for (int i = 0; i < index.nodes().size(); i++) {
            match(model, index, i).ifPresent(layers::add);
        }
        Map<String, String> maskColumns = new HashMap<>();
        for (KeyProjection layer : layers) {
            rewrite(editor, layer, maskColumns);
        }
        editor.apply();
        return layers.size();
    }

    private static Optional<KeyProjection> match(OnnxModel model, GraphIndex index, int concat) {
        NodeProto node = index.node(concat);
        if (!ChannelScaling.isDefault(node, "Concat") || node.getInputCount() != 2) {
            return Optional.empty();
        }
        String column = node.getInput(1);
        if (!binaryMaskColumn(model, index, column)) {
            return Optional.empty();
        }
        Optional<Integer> reshape = soleProducer(index, node.getInput(0), "Reshape");
        if (reshape.isEmpty()) {
            return Optional.empty();
        }
        long[] target = model.constant(index.node(reshape.get()).getInput(1)).map(model::longs).orElse(null);
        if (target == null || target.length != 4 || target[0] != 0 || target[1] != 0 || target[2] <= 0 || target[3] <= 0
                || (Nodes.intAttribute(node, "axis", 0) != -1 && Nodes.intAttribute(node, "axis", 0) != 3)) {
            return Optional.empty();
        }
        int heads = (int) target[2];
        int headSize = (int) target[3];
        Optional<Integer> biasAdd = soleProducer(index, index.node(reshape.get()).getInput(0), "Add");
        if (biasAdd.isEmpty()) {
            return Optional.empty();
        }
        NodeProto add = index.node(biasAdd.get());
        int biasSide = isVector(model, add.getInput(1), heads * headSize) ? 1 : isVector(model, add.getInput(0), heads * headSize) ? 0 : -1;
        if (biasSide < 0) {
            return Optional.empty();
        }
        // IntegerMatMul's pattern: Mul(Cast(MatMulInteger(x, W, zx)), Mul(x scale, W scale))
        Optional<Integer> outputMul = soleProducer(index, add.getInput(1 - biasSide), "Mul");
        if (outputMul.isEmpty()) {
            return Optional.empty();
        }
        NodeProto mul = index.node(outputMul.get());
        Optional<Integer> cast = soleProducer(index, mul.getInput(0), "Cast");
        Optional<Integer> scaleMul = soleProducer(index, mul.getInput(1), "Mul");
        if (cast.isEmpty() || scaleMul.isEmpty()) {
            return Optional.empty();
        }
        Optional<Integer> matMul = soleProducer(index, index.node(cast.get()).getInput(0), "MatMulInteger");
        if (matMul.isEmpty()) {
            return Optional.empty();
        }
        NodeProto integer = index.node(matMul.get());
        Optional<TensorProto> weight = model.constant(integer.getInput(1));
        Optional<TensorProto> weightScale = model.constant(index.node(scaleMul.get()).getInput(1));
        if (integer.getInputCount() != 3 || weight.isEmpty() || weight.get().getDataType() != DataType.INT8.onnxId()
                || Tensors.dims(weight.get()).length != 2 || Tensors.dims(weight.get())[1] != (long) heads * headSize
                || weightScale.isEmpty() || weightScale.get().getDataType() != DataType.FLOAT.onnxId()
                || (Tensors.elementCount(weightScale.get()) != 1 && !isVector(model, weightScale.get().getName(), heads * headSize))) {
            return Optional.empty();
        }
        return Optional.of(new KeyProjection(matMul.get(), scaleMul.get(), biasAdd.get(), biasSide, reshape.get(), concat,
                column, heads, headSize));
    }

    /**
     * The fold's column, Transpose(Expand(m)), with m = Mul(Sub(1, mask), c) and c a scalar at most
     * {@link #MASK_CONSTANT_LIMIT}: every value is 0 (kept) or far below any score (masked) for masks in [0, 1].
     */
    private static boolean binaryMaskColumn(OnnxModel model, GraphIndex index, String column) {
        Optional<NodeProto> transpose = index.producerNode(column).filter(n -> ChannelScaling.isDefault(n, "Transpose"));
        Optional<NodeProto> expand = transpose.flatMap(t -> index.producerNode(t.getInput(0))).filter(n -> ChannelScaling.isDefault(n, "Expand"));
        Optional<NodeProto> scale = expand.flatMap(e -> index.producerNode(e.getInput(0))).filter(n -> ChannelScaling.isDefault(n, "Mul"));
        if (scale.isEmpty()) {
            return false;
        }
        for (int side = 0; side < 2; side++) {
            Optional<Float> c = scalar(model, scale.get().getInput(side));
            Optional<NodeProto> invert = index.producerNode(scale.get().getInput(1 - side)).filter(n -> ChannelScaling.isDefault(n, "Sub"));
            if (c.isPresent() && c.get() <= MASK_CONSTANT_LIMIT && invert.isPresent()
                    && scalar(model, invert.get().getInput(0)).filter(one -> one == 1f).isPresent()) {
                return true;
            }
        }
        return false;
    }

    private static void rewrite(GraphEditor editor, KeyProjection layer, Map<String, String> maskColumns) {
        OnnxModel model = editor.model();
        GraphIndex index = editor.index();
        NodeProto integer = index.node(layer.matMulInteger);
        String quantized = integer.getInput(0);
        int heads = layer.heads;
        int size = layer.headSize;
        int widened = heads * (size + 1);

        // the first layer of a mask also gets the nodes that make its columns, shared by all later layers
        List<NodeProto> added = new ArrayList<>();
        String columns = maskColumns.computeIfAbsent(layer.column, column -> byteColumns(editor, column, added));
        String withMask = editor.freshName(quantized + "_with_mask");
        added.add(Nodes.node("Concat", editor.freshName(quantized + "_with_mask"), List.of(quantized, columns), List.of(withMask),
                Nodes.attr("axis", -1L)));
        editor.insertBefore(layer.matMulInteger, added);

        // W gets two rows and one column per head; the scale and bias follow the columns
        TensorProto weightTensor = model.constant(integer.getInput(1)).orElseThrow();
        int rows = (int) Tensors.dims(weightTensor)[0];
        ByteBuffer w = model.bytes(weightTensor);
        int columnsBefore = heads * size;
        byte[] w2 = new byte[(rows + 2) * widened];
        NodeProto scaleMul = index.node(layer.scaleMul);
        TensorProto scaleTensor = model.constant(scaleMul.getInput(1)).orElseThrow();
        float[] scale = model.floats(scaleTensor);
        NodeProto biasAdd = index.node(layer.biasAdd);
        float[] bias = model.floats(model.constant(biasAdd.getInput(layer.biasSide)).orElseThrow());
        float[] scale2 = new float[widened];
        float[] bias2 = new float[widened];
        for (int h = 0; h < heads; h++) {
            for (int d = 0; d < size; d++) {
                int from = h * size + d;
                int to = h * (size + 1) + d;
                for (int r = 0; r < rows; r++) {
                    w2[r * widened + to] = w.get(r * columnsBefore + from);
                }
                scale2[to] = scale.length == 1 ? scale[0] : scale[from];
                bias2[to] = bias[from];
            }
            int maskColumn = h * (size + 1) + size;
            w2[rows * widened + maskColumn] = 127;
            w2[(rows + 1) * widened + maskColumn] = -127;
            scale2[maskColumn] = MASK_COLUMN_SCALE;
        }
        String weight = editor.freshName(integer.getInput(1) + "_mask_rows");
        String scaleName = editor.freshName(scaleMul.getInput(1) + "_mask_rows");
        String biasName = editor.freshName(biasAdd.getInput(layer.biasSide) + "_mask_rows");
        editor.addInitializer(Tensors.ofBytes(weight, DataType.INT8, new long[] {rows + 2, widened}, w2));
        editor.addInitializer(Tensors.ofFloats(scaleName, new long[] {widened}, scale2));
        editor.addInitializer(Tensors.ofFloats(biasName, new long[] {widened}, bias2));
        editor.mayBeUnused(integer.getInput(1));
        editor.mayBeUnused(scaleMul.getInput(1));
        editor.mayBeUnused(biasAdd.getInput(layer.biasSide));
        editor.replace(layer.matMulInteger, List.of(integer.toBuilder().setInput(0, withMask).setInput(1, weight).build()));
        editor.replace(layer.scaleMul, List.of(scaleMul.toBuilder().setInput(1, scaleName).build()));
        editor.replace(layer.biasAdd, List.of(biasAdd.toBuilder().setInput(layer.biasSide, biasName).build()));

        // K's heads are one wider, and the Concat goes: its readers take the reshaped K itself
        NodeProto reshape = index.node(layer.reshape);
        long[] target = model.longs(model.constant(reshape.getInput(1)).orElseThrow()).clone();
        target[3] = size + 1;
        String targetName = constant(editor, reshape.getInput(1) + "_mask_rows", target);
        editor.mayBeUnused(reshape.getInput(1));
        NodeProto concat = index.node(layer.concat);
        editor.replace(layer.reshape, List.of(reshape.toBuilder().setInput(1, targetName).setOutput(0, concat.getOutput(0)).build()));
        editor.replace(layer.concat, List.of());
    }

    /**
     * Adds to {@code nodes} the nodes that make {@code [0, keep ? 0 : 255]} per token from the mask column (its first
     * head compared with 0); returns the name of those uint8 columns.
     */
    private static String byteColumns(GraphEditor editor, String column, List<NodeProto> nodes) {
        String starts = constant(editor, column + "_first_head_start", new long[] {0});
        String ends = constant(editor, column + "_first_head_end", new long[] {1});
        String axes = constant(editor, column + "_head_axis", new long[] {2});
        String toRows = constant(editor, column + "_rows", new long[] {0, 0, 1});
        String zero = editor.freshName(column + "_zero");
        editor.addInitializer(Tensors.scalarFloat(zero, 0f));
        String kept = editor.freshName(column + "_kept_columns");
        editor.addInitializer(Tensors.ofBytes(kept, DataType.UINT8, new long[] {2}, new byte[] {0, 0}));
        String masked = editor.freshName(column + "_masked_columns");
        editor.addInitializer(Tensors.ofBytes(masked, DataType.UINT8, new long[] {2}, new byte[] {0, (byte) 255}));
        String firstHead = editor.freshName(column + "_first_head");
        String rows = editor.freshName(column + "_per_token");
        String keep = editor.freshName(column + "_keep");
        String columns = editor.freshName(column + "_as_columns");
        nodes.add(Nodes.node("Slice", editor.freshName(column + "_first_head"), List.of(column, starts, ends, axes), List.of(firstHead)));
        nodes.add(Nodes.node("Reshape", editor.freshName(column + "_per_token"), List.of(firstHead, toRows), List.of(rows)));
        nodes.add(Nodes.node("Equal", editor.freshName(column + "_keep"), List.of(rows, zero), List.of(keep)));
        nodes.add(Nodes.node("Where", editor.freshName(column + "_as_columns"), List.of(keep, kept, masked), List.of(columns)));
        return columns;
    }

    private static String constant(GraphEditor editor, String base, long[] values) {
        String name = editor.freshName(base);
        editor.addInitializer(Tensors.ofLongs(name, new long[] {values.length}, values));
        return name;
    }

    /** The producer of {@code value} when it has the given type and {@code value} has no other reader. */
    private static Optional<Integer> soleProducer(GraphIndex index, String value, String opType) {
        Optional<Integer> producer = index.producerOf(value);
        if (producer.isEmpty() || !ChannelScaling.isDefault(index.node(producer.get()), opType)
                || index.consumersOf(value).size() != 1 || index.isGraphOutput(value)) {
            return Optional.empty();
        }
        return producer;
    }

    private static boolean isVector(OnnxModel model, String value, long length) {
        return model.constant(value).filter(t -> t.getDataType() == DataType.FLOAT.onnxId())
                .filter(t -> java.util.Arrays.equals(Tensors.dims(t), new long[] {length})).isPresent();
    }

    private static Optional<Float> scalar(OnnxModel model, String value) {
        return model.constant(value)
                .filter(t -> t.getDataType() == DataType.FLOAT.onnxId() && Tensors.elementCount(t) == 1)
                .map(t -> model.floats(t)[0]);
    }
}
