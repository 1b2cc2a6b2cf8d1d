package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Folds inference-mode BatchNormalization into the Conv that feeds it: with a = scale / sqrt(var + epsilon) per
 * output channel, W' = W * a and b' = (b - mean) * a + B. The result equals the original up to float rounding
 * (computed in double). Quantizing afterwards then sees one weight tensor instead of a Conv followed by a float
 * normalisation that no integer kernel can absorb. Only the main graph is edited; subgraphs are left as they are.
 */
public final class BatchNormFolding implements Pass.WithoutOptions {
    public static final String NAME = "batchnorm_folded";

    @Override
    public String name() {
        return NAME;
    }


    /** Changes: the pairs folded; the BatchNormalizations left alone are listed with the reason. */
    @Override
    public PassResult apply(OnnxModel model) {
        List<Outcome> outcomes = fold(model);
        int folded = (int) outcomes.stream().filter(Outcome::folded).count();
        PassResult result = PassResult.changed(NAME, folded, outcomes.isEmpty() ? null : folded + " of " + outcomes.size());
        outcomes.stream().filter(o -> !o.folded()).forEach(o -> result.skipped(o.batchNorm(), "BatchNormalization",
                "not folded: " + o.skippedReason()));
        return result;
    }

    /** A pair that was folded, or a BatchNormalization left alone and why. */
    public record Outcome(String batchNorm, String conv, String skippedReason) {
        public boolean folded() {
            return skippedReason == null;
        }
    }

    /** Folds every foldable pair; returns one outcome per BatchNormalization node of the main graph. */
    public static List<Outcome> fold(OnnxModel model) {
        List<Outcome> outcomes = new ArrayList<>();
        UniqueNames names = UniqueNames.of(model.graph());
        GraphIndex index = new GraphIndex(model.graph());
        List<Integer> removed = new ArrayList<>();
        for (int position = 0; position < index.nodes().size(); position++) {
            NodeProto bn = index.node(position);
            if (!isBatchNorm(bn)) {
                continue;
            }
            String why = whyNotFoldable(model, index, bn);
            String convLabel = index.producerNode(bn.getInput(0)).map(Graphs::nodeLabel).orElse(null);
            outcomes.add(new Outcome(Graphs.nodeLabel(bn), convLabel, why));
            if (why == null) {
                // each Conv feeds only its BatchNormalization, so folds never overlap and positions stay valid
                foldPair(model, index, index.producerOf(bn.getInput(0)).orElseThrow(), position, names);
                removed.add(position);
            }
        }
        for (int i = removed.size() - 1; i >= 0; i--) {
            model.graph().removeNode(removed.get(i));
        }
        GraphEditor.removeUnusedConstants(model);
        return outcomes;
    }

    private static boolean isBatchNorm(NodeProto node) {
        return node.getOpType().equals("BatchNormalization") && isDefaultDomain(node);
    }

    private static boolean isDefaultDomain(NodeProto node) {
        return node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
    }

    private static String whyNotFoldable(OnnxModel model, GraphIndex index, NodeProto bn) {
        if (Nodes.intAttribute(bn, "training_mode", 0) != 0 || bn.getOutputCount() > 1 && !bn.getOutput(1).isEmpty()) {
            return "runs in training mode";
        }
        if (bn.getInputCount() < 5) {
            return "has fewer than 5 inputs";
        }
        Optional<NodeProto> producer = index.producerNode(bn.getInput(0));
        if (producer.isEmpty() || !producer.get().getOpType().equals("Conv") || !isDefaultDomain(producer.get())) {
            return "its input does not come from a Conv";
        }
        NodeProto conv = producer.get();
        String convOut = conv.getOutput(0);
        if (index.consumersOf(convOut).size() != 1 || index.isGraphOutput(convOut)) {
            return "the Conv output is also read elsewhere";
        }
        Optional<TensorProto> weight = Weights.find(model, conv.getInput(1));
        if (weight.isEmpty() || DataType.of(weight.get()) != DataType.FLOAT || weight.get().getDimsCount() < 3) {
            return "the Conv weight is not a float32 constant";
        }
        long channels = weight.get().getDims(0);
        if (conv.getInputCount() > 2 && !conv.getInput(2).isEmpty()) {
            Optional<TensorProto> bias = Weights.find(model, conv.getInput(2));
            if (bias.isEmpty() || DataType.of(bias.get()) != DataType.FLOAT || Tensors.elementCount(bias.get()) != channels) {
                return "the Conv bias is not a float32 constant";
            }
        }
        for (int i = 1; i <= 4; i++) {
            Optional<TensorProto> p = Weights.find(model, bn.getInput(i));
            if (p.isEmpty() || DataType.of(p.get()) != DataType.FLOAT || Tensors.elementCount(p.get()) != channels) {
                return "its parameter '" + bn.getInput(i) + "' is not a float32 constant of " + channels + " values";
            }
        }
        return null;
    }

    private static void foldPair(OnnxModel model, GraphIndex index, int convPosition, int bnPosition, UniqueNames names) {
        NodeProto conv = index.node(convPosition);
        NodeProto bn = index.node(bnPosition);
        TensorProto weight = model.constant(conv.getInput(1)).orElseThrow();
        float[] w = model.floats(weight);
        float[] gamma = model.floats(model.constant(bn.getInput(1)).orElseThrow());
        float[] beta = model.floats(model.constant(bn.getInput(2)).orElseThrow());
        float[] mean = model.floats(model.constant(bn.getInput(3)).orElseThrow());
        float[] variance = model.floats(model.constant(bn.getInput(4)).orElseThrow());
        double epsilon = Nodes.floatAttribute(bn, "epsilon", 1e-5f);
        int channels = gamma.length;
        boolean hasBias = conv.getInputCount() > 2 && !conv.getInput(2).isEmpty();
        float[] b = hasBias ? model.floats(model.constant(conv.getInput(2)).orElseThrow()) : new float[channels];

        int perChannel = w.length / channels;
        float[] foldedW = new float[w.length];
        float[] foldedB = new float[channels];
        for (int c = 0; c < channels; c++) {
            double a = gamma[c] / Math.sqrt((double) variance[c] + epsilon);
            for (int i = c * perChannel; i < (c + 1) * perChannel; i++) {
                foldedW[i] = (float) (w[i] * a);
            }
            foldedB[c] = (float) ((b[c] - (double) mean[c]) * a + beta[c]);
        }
        String wName = names.fresh(conv.getInput(1) + "_bn_folded");
        String bName = names.fresh((hasBias ? conv.getInput(2) : wName + "_bias") + "_bn_folded");
        GraphProto.Builder graph = model.graph();
        graph.addInitializer(Tensors.ofFloats(wName, Tensors.dims(weight), foldedW));
        graph.addInitializer(Tensors.ofFloats(bName, new long[] {channels}, foldedB));
        NodeProto.Builder folded = conv.toBuilder().clearInput().addInput(conv.getInput(0)).addInput(wName).addInput(bName)
                .setOutput(0, bn.getOutput(0));
        // the Conv takes over the BatchNormalization's output; the caller removes the BatchNormalization
        graph.setNode(convPosition, folded);
        for (int i = graph.getValueInfoCount() - 1; i >= 0; i--) {
            if (graph.getValueInfo(i).getName().equals(conv.getOutput(0))) {
                graph.removeValueInfo(i);
            }
        }
    }
}
