package io.modelpress.core.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one {@link Pass} did: how many places of the model it changed, notes for the report (key -> one line of text),
 * and the nodes it had to leave alone with the reason. Reports take results in with {@link PassReport#add}.
 */
public final class PassResult {
    /** A node a pass left as it was, and why. */
    public record Skipped(String node, String opType, String reason) {
    }

    private final String pass;
    private int changes;
    private final Map<String, String> notes = new LinkedHashMap<>();
    private final List<Skipped> skipped = new ArrayList<>();

    private PassResult(String pass) {
        this.pass = pass;
    }

    /** An empty result of the named pass: nothing changed, nothing noted. */
    public static PassResult of(String pass) {
        return new PassResult(pass);
    }

    /** A result of {@code changes} changes, noted under the pass's name with {@code note} (no note when it is null). */
    public static PassResult changed(String pass, int changes, String note) {
        PassResult result = new PassResult(pass).addChanges(changes);
        return note == null ? result : result.note(pass, note);
    }

    public PassResult addChanges(int count) {
        changes += count;
        return this;
    }

    public PassResult note(String key, String text) {
        notes.put(key, text);
        return this;
    }

    public PassResult skipped(String node, String opType, String reason) {
        skipped.add(new Skipped(node, opType, reason));
        return this;
    }

    public String pass() {
        return pass;
    }

    /** Places of the model the pass changed (nodes, tensors or patterns, as the pass counts them). */
    public int changes() {
        return changes;
    }

    public boolean changedModel() {
        return changes > 0;
    }

    public Map<String, String> notes() {
        return Collections.unmodifiableMap(notes);
    }

    public List<Skipped> skipped() {
        return Collections.unmodifiableList(skipped);
    }
}
