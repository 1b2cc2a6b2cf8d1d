package io.modelpress.core.quantize;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.graph.PassReport;
import io.modelpress.core.graph.PassResult;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Per-node account of what a quantization mode's passes did, for report.json and the CLI. */
public final class QuantizationReport extends PassReport {
    /** The note key that says what became of the model as a whole (e.g. that there was nothing to quantize). */
    public static final String RESULT = "result";

    /**
     * @param scheme e.g. "int8 per-channel symmetric weights, dynamic uint8 activations"; null for skipped nodes
     * @param reason why a node was skipped or kept in float; null when quantized
     */
    public record Entry(String node, String opType, boolean quantized, String scheme, float minScale, float maxScale, String reason) {
    }

    private final String mode;
    private final List<Entry> entries = new ArrayList<>();

    public QuantizationReport(String mode) {
        this.mode = mode;
    }

    public void quantized(String node, String opType, String scheme, float[] scales) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (float s : scales) {
            min = Math.min(min, s);
            max = Math.max(max, s);
        }
        entries.add(new Entry(node, opType, true, scheme, min, max, null));
    }

    public void skipped(String node, String opType, String reason) {
        entries.add(new Entry(node, opType, false, null, Float.NaN, Float.NaN, reason));
    }

    /** Takes in a pass's notes and the nodes it left float. */
    @Override
    public void add(PassResult result) {
        super.add(result);
        result.skipped().forEach(s -> skipped(s.node(), s.opType(), s.reason()));
    }

    /**
     * Records that the pass found nothing it can quantize, and why: the candidates it had to leave float (each with its
     * reason in the node list), or, with no candidate at all, what the model lacks. The model then passes through as
     * it was.
     *
     * @param lacking what the mode quantizes, phrased to follow "the model has no", e.g. "MatMul with a constant weight"
     */
    public void nothingToQuantize(String lacking) {
        long candidates = entries.size() - quantizedCount();
        note(RESULT, "nothing to quantize: " + (candidates > 0
                ? "none of the " + candidates + " candidate node" + (candidates == 1 ? "" : "s") + " can be quantized (each one's reason is listed)"
                : "the model has no " + lacking) + "; the model passes through unchanged");
    }

    public String mode() {
        return mode;
    }

    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    public long quantizedCount() {
        return entries.stream().filter(Entry::quantized).count();
    }

    @Override
    public long changedCount() {
        return quantizedCount();
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = newJson();
        json.put("mode", mode);
        json.put("quantized_nodes", quantizedCount());
        json.put("skipped_nodes", entries.size() - quantizedCount());
        putNotes(json);
        ArrayNode nodes = json.putArray("nodes");
        for (Entry e : entries) {
            ObjectNode n = nodes.addObject();
            n.put("node", e.node());
            n.put("op", e.opType());
            n.put("quantized", e.quantized());
            if (e.quantized()) {
                n.put("scheme", e.scheme());
                n.put("scale_min", e.minScale());
                n.put("scale_max", e.maxScale());
            } else {
                n.put("reason", e.reason());
            }
        }
        return json;
    }
}
