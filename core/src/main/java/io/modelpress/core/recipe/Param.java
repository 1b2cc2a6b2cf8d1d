package io.modelpress.core.recipe;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One recipe key: what values it accepts, its default, and (for keys that only make sense in some modes) the modes
 * it applies to. Values are normalised to String, Long, Double, Boolean, List&lt;String&gt;, or Map (for objects).
 */
public record Param(String name, Kind kind, List<String> choices, double min, double max, Object defaultValue,
                    Set<String> modes, Map<String, Param> fields, String description, Map<String, Object> modeDefaults) {

    public Param(String name, Kind kind, List<String> choices, double min, double max, Object defaultValue,
                 Set<String> modes, Map<String, Param> fields, String description) {
        this(name, kind, choices, min, max, defaultValue, modes, fields, description, Map.of());
    }

    public enum Kind { CHOICE, INTEGER, NUMBER, BOOLEAN, STRING, STRING_LIST, CHOICE_LIST, DURATION, OBJECT, NUMBER_OR_FALSE,
        /** A list of integers, each in [min, max] (normalised to List&lt;Long&gt;). */
        INTEGER_LIST,
        /** Model input name -> shape such as 1x512 (normalised to that text). */
        INPUT_SHAPES,
        /** Model input name -> number (normalised to its text). */
        INPUT_VALUES }

    public static Param choice(String name, Object defaultValue, String description, String... choices) {
        return new Param(name, Kind.CHOICE, List.of(choices), 0, 0, defaultValue, Set.of(), Map.of(), description);
    }

    public static Param choices(String name, Object defaultValue, String description, String... choices) {
        return new Param(name, Kind.CHOICE_LIST, List.of(choices), 0, 0, defaultValue, Set.of(), Map.of(), description);
    }

    public static Param integer(String name, long min, long max, Long defaultValue, String description) {
        return new Param(name, Kind.INTEGER, List.of(), min, max, defaultValue, Set.of(), Map.of(), description);
    }

    public static Param number(String name, double min, double max, Double defaultValue, String description) {
        return new Param(name, Kind.NUMBER, List.of(), min, max, defaultValue, Set.of(), Map.of(), description);
    }

    /** A number in [min, max], or {@code false} to switch the feature off. */
    public static Param numberOrFalse(String name, double min, double max, Object defaultValue, String description) {
        return new Param(name, Kind.NUMBER_OR_FALSE, List.of(), min, max, defaultValue, Set.of(), Map.of(), description);
    }

    public static Param bool(String name, Boolean defaultValue, String description) {
        return new Param(name, Kind.BOOLEAN, List.of(), 0, 0, defaultValue, Set.of(), Map.of(), description);
    }

    public static Param string(String name, String defaultValue, String description) {
        return new Param(name, Kind.STRING, List.of(), 0, 0, defaultValue, Set.of(), Map.of(), description);
    }

    public static Param strings(String name, String description) {
        return new Param(name, Kind.STRING_LIST, List.of(), 0, 0, List.of(), Set.of(), Map.of(), description);
    }

    /** A list of integers, each from min to max, e.g. {@code [16, 16]}. */
    public static Param integers(String name, long min, long max, String description) {
        return new Param(name, Kind.INTEGER_LIST, List.of(), min, max, null, Set.of(), Map.of(), description);
    }

    public static Param duration(String name, String defaultValue, String description) {
        return new Param(name, Kind.DURATION, List.of(), 0, 0, defaultValue, Set.of(), Map.of(), description);
    }

    /** A mapping from model input names to shapes, e.g. {@code {input: 1x512}}. */
    public static Param inputShapes(String name, String description) {
        return new Param(name, Kind.INPUT_SHAPES, List.of(), 0, 0, null, Set.of(), Map.of(), description);
    }

    /** A mapping from model input names to numbers, e.g. {@code {sr: 16000}}. */
    public static Param inputValues(String name, String description) {
        return new Param(name, Kind.INPUT_VALUES, List.of(), 0, 0, null, Set.of(), Map.of(), description);
    }

    public static Param object(String name, String description, Param... fields) {
        Map<String, Param> map = new java.util.LinkedHashMap<>();
        for (Param f : fields) {
            map.put(f.name(), f);
        }
        return new Param(name, Kind.OBJECT, List.of(), 0, 0, null, Set.of(), java.util.Collections.unmodifiableMap(map), description);
    }

    /** The same key, accepted only in the given modes. */
    public Param onlyIn(String... modeNames) {
        return new Param(name, kind, choices, min, max, defaultValue, Set.of(modeNames), fields, description, modeDefaults);
    }

    /** The same key with another default in one mode (defaults are measured per mode). */
    public Param withModeDefault(String mode, Object value) {
        Map<String, Object> defaults = new java.util.LinkedHashMap<>(modeDefaults);
        defaults.put(mode, value);
        return new Param(name, kind, choices, min, max, defaultValue, modes, fields, description, java.util.Collections.unmodifiableMap(defaults));
    }

    /** The default in a mode (null mode: the general default). */
    public Object defaultFor(String mode) {
        return mode != null && modeDefaults.containsKey(mode) ? modeDefaults.get(mode) : defaultValue;
    }

    /** What the key expects, for error messages. */
    public String expected() {
        return switch (kind) {
            case CHOICE -> "one of: " + String.join(", ", choices);
            case CHOICE_LIST -> "a list of: " + String.join(", ", choices);
            case INTEGER -> "an integer from " + (long) min + " to " + (long) max;
            case NUMBER -> "a number from " + fmt(min) + " to " + fmt(max);
            case NUMBER_OR_FALSE -> "false or a number from " + fmt(min) + " to " + fmt(max);
            case BOOLEAN -> "true or false";
            case STRING -> "a string";
            case STRING_LIST -> "a list of strings";
            case INTEGER_LIST -> "a list of integers from " + (long) min + " to " + (long) max;
            case DURATION -> "a duration such as 90s, 30m or 2h";
            case OBJECT -> "a mapping with keys: " + String.join(", ", fields.keySet());
            case INPUT_SHAPES -> "a mapping of input name to shape, e.g. {input: 1x512}";
            case INPUT_VALUES -> "a mapping of input name to number, e.g. {sr: 16000}";
        };
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
