package io.modelpress.core.graph;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.stats.ModelFootprint;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a compression stage's passes did, for report.json and the CLI: the one shape every pass report builds on
 * (quantization, float16 conversion, pruning, sparsity, low rank). Each report adds its own per-node or per-tensor
 * lists; the common parts are here: the notes (key -> one line, sorted by key), how many places changed, and what the
 * model cost before and after when the pass measured it.
 */
public abstract class PassReport {
    private final Map<String, String> notes = new TreeMap<>();
    private ModelFootprint before;
    private ModelFootprint after;

    /** Pass-level facts, e.g. "opset" -> "upgraded 11 -> 13". */
    public void note(String key, String value) {
        notes.put(key, value);
    }

    public Map<String, String> notes() {
        return Collections.unmodifiableMap(notes);
    }

    /** Takes in what one pass did: its notes (and, in reports that list nodes, the nodes it left alone). */
    public void add(PassResult result) {
        result.notes().forEach(this::note);
    }

    /** How many nodes or tensors the passes changed (0: the model is as it was). */
    public abstract long changedCount();

    public void footprints(ModelFootprint beforePasses, ModelFootprint afterPasses) {
        this.before = beforePasses;
        this.after = afterPasses;
    }

    /** What the model cost before the passes, or null when the report does not measure it. */
    public ModelFootprint before() {
        return before;
    }

    public ModelFootprint after() {
        return after;
    }

    public abstract ObjectNode toJson();

    protected static ObjectNode newJson() {
        return JsonNodeFactory.instance.objectNode();
    }

    /** Adds {@code notes} (an object, sorted by key). */
    protected ObjectNode putNotes(ObjectNode json) {
        ObjectNode node = json.putObject("notes");
        notes.forEach(node::put);
        return json;
    }

    /** Adds {@code before} and {@code after}, each when it was measured. */
    protected ObjectNode putFootprints(ObjectNode json) {
        if (before != null) {
            json.set("before", before.toJson());
        }
        if (after != null) {
            json.set("after", after.toJson());
        }
        return json;
    }
}
