package io.modelpress.core.recipe;

import io.modelpress.core.onnx.NodeSelector;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One validated stage of a recipe: its 0-based position (as in error paths {@code stages[0]} and pipeline events),
 * its type and every parameter with defaults applied. Values are String, Long,
 * Double, Boolean, List&lt;String&gt;, List&lt;Long&gt; or Map&lt;String, Object&gt;; the typed getters below read them.
 */
public record StageSpec(int index, String type, Map<String, Object> params) {
    public StageSpec {
        params = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(params));
    }

    public String string(String key) {
        return (String) params.get(key);
    }

    public long integer(String key) {
        return ((Number) params.get(key)).longValue();
    }

    public double number(String key) {
        return ((Number) params.get(key)).doubleValue();
    }

    public boolean bool(String key) {
        return Boolean.TRUE.equals(params.get(key));
    }

    /** A number-or-false parameter: empty when switched off. */
    public java.util.OptionalDouble numberOrOff(String key) {
        Object v = params.get(key);
        return v instanceof Number n ? java.util.OptionalDouble.of(n.doubleValue()) : java.util.OptionalDouble.empty();
    }

    @SuppressWarnings("unchecked")
    public List<String> strings(String key) {
        Object v = params.get(key);
        return v == null ? List.of() : (List<String>) v;
    }

    /** An integer-list parameter; empty when absent. */
    public List<Long> integers(String key) {
        Object v = params.get(key);
        return v == null ? List.of() : ((List<?>) v).stream().map(n -> ((Number) n).longValue()).toList();
    }

    @SuppressWarnings("unchecked")
    public Map<String, Object> object(String key) {
        Object v = params.get(key);
        return v == null ? Map.of() : (Map<String, Object>) v;
    }

    public boolean has(String key) {
        return params.get(key) != null;
    }

    /** The include/exclude keys as a selector. */
    @SuppressWarnings("unchecked")
    public NodeSelector selector() {
        Map<String, Object> in = object("include");
        Map<String, Object> out = object("exclude");
        return new NodeSelector(list(in, "nodes"), list(in, "ops"), patterns(in), list(out, "nodes"), list(out, "ops"), patterns(out));
    }

    @SuppressWarnings("unchecked")
    private static List<String> list(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v == null ? List.of() : (List<String>) v;
    }

    private static List<Pattern> patterns(Map<String, Object> m) {
        return list(m, "patterns").stream().map(Pattern::compile).toList();
    }

    /** A short label such as {@code 01-quantize} (numbered from 01), used in object keys, metrics and logs. */
    public String label() {
        return label(index, type);
    }

    /** The label of the stage at a 0-based position: the one naming scheme of CLI work folders and pipeline keys. */
    public static String label(int index, String type) {
        return String.format("%02d-%s", index + 1, type);
    }
}
