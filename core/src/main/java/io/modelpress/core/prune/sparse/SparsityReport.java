package io.modelpress.core.prune.sparse;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.graph.PassReport;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a sparsity pass did, tensor by tensor, and what the model costs before and after - for report.json and the CLI. */
public final class SparsityReport extends PassReport {
    /**
     * One pruned weight tensor.
     *
     * @param zerosBefore exact zeros it held before the pass
     * @param zeros       exact zeros it holds now
     * @param pattern     how its zeros are laid out (unstructured, n:m, block)
     */
    public record Layer(String tensor, String op, List<String> nodes, List<Long> shape, long elements, long zerosBefore,
                        long zeros, String pattern) {
        public double sparsity() {
            return elements == 0 ? 0 : (double) zeros / elements;
        }
    }

    /** A node whose weight was left alone, and why. */
    public record Skipped(String node, String op, String tensor, String reason) {
    }

    /** Unstructured sparsity saves bytes (after compression), not time, on ONNX Runtime's CPU kernels. */
    public static final String SPEED_NOTE = "zeros are stored and multiplied like any other value: ONNX Runtime's CPU kernels run a "
            + "sparse model no faster than the dense one; the gain is in compressed size (gzip, or int8 quantization after "
            + "pruning) and in what a sparse-aware runtime (e.g. 2:4 sparse tensor cores) can exploit";

    private final SparsityOptions options;
    private final List<Layer> layers = new ArrayList<>();
    private final List<Skipped> skipped = new ArrayList<>();

    SparsityReport(SparsityOptions options) {
        this.options = options;
    }

    void pruned(Layer layer) {
        layers.add(layer);
    }

    void skipped(Skipped entry) {
        skipped.add(entry);
    }

    public SparsityOptions options() {
        return options;
    }

    public List<Layer> layers() {
        return Collections.unmodifiableList(layers);
    }

    public List<Skipped> skipped() {
        return Collections.unmodifiableList(skipped);
    }

    /** Elements of all pruned tensors. */
    public long prunableElements() {
        return layers.stream().mapToLong(Layer::elements).sum();
    }

    /** Exact zeros in all pruned tensors after the pass. */
    public long zeros() {
        return layers.stream().mapToLong(Layer::zeros).sum();
    }

    @Override
    public long changedCount() {
        return layers.size();
    }

    public double sparsity() {
        long elements = prunableElements();
        return elements == 0 ? 0 : (double) zeros() / elements;
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = newJson();
        json.put("method", options.method().key());
        switch (options.method()) {
            case MAGNITUDE -> {
                json.put("ratio", options.ratio());
                json.put("scope", options.scope().key());
                json.put("allocation", options.allocation().key());
            }
            case N_M -> {
                json.put("n", options.n());
                json.put("m", options.m());
            }
            case BLOCK -> {
                json.put("ratio", options.ratio());
                json.put("scope", options.scope().key());
                json.putArray("block").add(options.blockRows()).add(options.blockCols());
            }
        }
        json.put("embeddings", options.embeddings());
        json.put("pruned_tensors", layers.size());
        json.put("prunable_weights", prunableElements());
        json.put("zeros", zeros());
        json.put("sparsity", sparsity());
        putFootprints(json);
        json.put("mask_metadata_key", SparsityRecord.METADATA_KEY);
        json.put("speed", SPEED_NOTE);
        putNotes(json);
        ArrayNode layerNodes = json.putArray("layers");
        for (Layer l : layers) {
            ObjectNode n = layerNodes.addObject();
            n.put("tensor", l.tensor());
            n.put("op", l.op());
            ArrayNode nodes = n.putArray("nodes");
            l.nodes().forEach(nodes::add);
            ArrayNode shape = n.putArray("shape");
            l.shape().forEach(shape::add);
            n.put("elements", l.elements());
            n.put("zeros_before", l.zerosBefore());
            n.put("zeros", l.zeros());
            n.put("sparsity", l.sparsity());
            n.put("pattern", l.pattern());
        }
        ArrayNode skippedNodes = json.putArray("skipped");
        for (Skipped s : skipped) {
            ObjectNode n = skippedNodes.addObject();
            n.put("node", s.node());
            n.put("op", s.op());
            n.put("tensor", s.tensor());
            n.put("reason", s.reason());
        }
        return json;
    }
}
