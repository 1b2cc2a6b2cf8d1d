package io.modelpress.core.recipe;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.InputHints;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Parses and validates recipe YAML against the stage types found at run time ({@link StageTypes#ofThisProcess()}) and their keys. Every
 * problem is reported with its line and column, its path in the recipe (e.g. {@code stages[1].quantize.mode}) and
 * what was expected; all problems are reported at once.
 */
public final class RecipeParser {
    private static final int MAX_RECIPE_CHARS = 1 << 20;
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)");

    private final String sourceName;
    private final StageTypes stageTypes;
    private final List<String> errors = new ArrayList<>();

    private RecipeParser(String sourceName, StageTypes stageTypes) {
        this.sourceName = sourceName;
        this.stageTypes = stageTypes;
    }

    public static Recipe parse(Path file) {
        String text;
        try {
            if (Files.size(file) > MAX_RECIPE_CHARS) {
                throw new ModelPressException(ErrorCode.BAD_RECIPE, file.getFileName().toString(), "is larger than 1 MiB; not a recipe");
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, file.toString(), "recipe file does not exist");
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, file.toString(), "cannot be read: " + e.getMessage(), e);
        }
        return parse(text, file.getFileName().toString());
    }

    public static Recipe parse(String yaml, String sourceName) {
        return parse(yaml, sourceName, StageTypes.ofThisProcess());
    }

    /** Parses against the given stage types instead of this process's. */
    public static Recipe parse(String yaml, String sourceName, StageTypes stageTypes) {
        return new RecipeParser(sourceName, stageTypes).run(yaml);
    }

    private Recipe run(String yaml) {
        if (yaml.length() > MAX_RECIPE_CHARS) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, sourceName, "is larger than 1 MiB; not a recipe");
        }
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(20);
        options.setCodePointLimit(MAX_RECIPE_CHARS);
        options.setNestingDepthLimit(20);
        Node root;
        try {
            root = new Yaml(new SafeConstructor(options)).compose(new StringReader(yaml));
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark();
            throw new ModelPressException(ErrorCode.BAD_RECIPE, where(m), "is not valid YAML: " + e.getProblem());
        } catch (YAMLException e) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, sourceName, "is not valid YAML: " + e.getMessage());
        }
        if (!(root instanceof MappingNode top)) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, sourceName,
                    "must be a mapping with 'stages' (and optionally 'name', 'description', 'tuning', 'cache')");
        }
        String name = null;
        boolean cache = true;
        List<StageSpec> stages = new ArrayList<>();
        Map<String, Object> tuning = defaults(RecipeSchema.TUNING, null);
        boolean sawStages = false;
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (NodeTuple t : top.getValue()) {
            String key = scalarKey(t, "");
            if (key == null) {
                continue;
            }
            if (!seen.add(key)) {
                error(t.getKeyNode(), key, "is given twice");
                continue;
            }
            Node value = t.getValueNode();
            switch (key) {
                case "name", "description" -> {
                    Object v = convert(Param.string(key, null, ""), value, key);
                    if ("name".equals(key)) {
                        name = (String) v;
                    }
                }
                case "stages" -> {
                    sawStages = true;
                    parseStages(value, stages);
                }
                case "tuning" -> tuning = parseParams(RecipeSchema.TUNING, value, "tuning", null);
                case "cache" -> cache = !Boolean.FALSE.equals(convert(Param.bool(key, true, ""), value, key));
                default -> error(t.getKeyNode(), key, "unknown key; expected one of: name, description, stages, tuning, cache");
            }
        }
        if (!sawStages) {
            error(top, "stages", "is missing: a recipe needs a list of stages");
        } else if (stages.isEmpty() && errors.isEmpty()) {
            error(top, "stages", "is empty: a recipe needs at least one stage");
        }
        if (!errors.isEmpty()) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, sourceName, (errors.size() == 1 ? "has a problem:\n  " : "has "
                    + errors.size() + " problems:\n  ") + String.join("\n  ", errors));
        }
        Recipe.Tuning parsedTuning = new Recipe.Tuning((String) tuning.get("on_gate_failure"), (String) tuning.get("strategy"),
                ((Number) tuning.get("max_attempts")).intValue(), parseDuration((String) tuning.get("time_budget")));
        checkTuning(parsedTuning, stages);
        return new Recipe(name == null ? sourceName.replaceFirst("\\.ya?ml$", "") : name, stages, parsedTuning, cache, yaml);
    }

    /** A recipe that tunes needs a stage that can be made gentler by its strategy; said at parse time, not after a run. */
    private void checkTuning(Recipe.Tuning tuning, List<StageSpec> stages) {
        if (!tuning.tunes()) {
            return;
        }
        boolean fallback = "fallback".equals(tuning.strategy());
        boolean any = stages.stream().flatMap(s -> stageTypes.tuningAxes(s).stream())
                .anyMatch(a -> "search".equals(tuning.strategy()) || (a.kind() == TuningAxis.Kind.FALLBACK) == fallback);
        if (!any) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, sourceName + ": tuning.strategy", "is " + tuning.strategy()
                    + ", but no stage of this recipe can " + (fallback ? "fall back nodes (quantize in dynamic or static mode can)"
                    : "be made gentler (quantize, prune and lowrank can)") + "; use another strategy or on_gate_failure: fail");
        }
    }

    private void parseStages(Node value, List<StageSpec> stages) {
        if (!(value instanceof SequenceNode list)) {
            error(value, "stages", "must be a list, e.g.\n    stages:\n      - quantize: { mode: dynamic }");
            return;
        }
        int index = 0;
        for (Node item : list.getValue()) {
            index++;
            String path = "stages[" + (index - 1) + "]";
            if (!(item instanceof MappingNode stage) || stage.getValue().size() != 1) {
                error(item, path, "must be a mapping with exactly one stage type, e.g. '- quantize: { mode: dynamic }'");
                continue;
            }
            NodeTuple t = stage.getValue().get(0);
            String type = scalarKey(t, path);
            if (type == null) {
                continue;
            }
            if (!stageTypes.has(type)) {
                if (RecipeSchema.PLANNED.contains(type)) {
                    error(t.getKeyNode(), path + "." + type, "this stage type is not available in this version yet; available: "
                            + String.join(", ", stageTypes.types()));
                } else {
                    error(t.getKeyNode(), path + "." + type, "unknown stage type; expected one of: "
                            + String.join(", ", stageTypes.types()));
                }
                continue;
            }
            Map<String, Param> schema = stageTypes.parameters(type);
            int errorsBefore = errors.size();
            String mode = modeOf(schema, t.getValueNode(), path + "." + type);
            Map<String, Object> params = parseParams(schema, t.getValueNode(), path + "." + type, mode);
            if ("quantize".equals(type)) {
                normaliseQuantize(params, mode);
            }
            StageSpec spec = new StageSpec(index - 1, type, params);
            if (errors.size() == errorsBefore) {
                // rules across keys, checked once every key on its own is valid
                for (String problem : stageTypes.problems(spec)) {
                    error(t.getKeyNode(), path + "." + type + "." + problem.substring(0, problem.indexOf(':')),
                            problem.substring(problem.indexOf(':') + 1).trim());
                }
            }
            stages.add(spec);
        }
    }

    /**
     * The stage's mode (its {@code mode} key, where it has one with choices), needed first because it decides which
     * other keys apply; null if the stage has no modes, or the mode is absent or invalid. A mode without a default
     * must be given.
     */
    private String modeOf(Map<String, Param> schema, Node params, String path) {
        String modeKey = modeKey(schema);
        if (modeKey == null) {
            return null;
        }
        Param mode = schema.get(modeKey);
        if (params instanceof MappingNode m) {
            for (NodeTuple t : m.getValue()) {
                if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(modeKey)) {
                    // an invalid value is reported when the parameters are parsed
                    return t.getValueNode() instanceof ScalarNode v && mode.choices().contains(v.getValue()) ? v.getValue() : null;
                }
            }
        }
        if (mode.defaultValue() != null) {
            return (String) mode.defaultValue();
        }
        error(params, path + "." + modeKey, "is required: one of " + String.join(", ", mode.choices()));
        return null;
    }

    /** The key that selects a stage's mode: {@code mode}, or {@code method} (prune), where it is a choice; else null. */
    private static String modeKey(Map<String, Param> schema) {
        for (String key : List.of("mode", "method")) {
            Param p = schema.get(key);
            if (p != null && p.kind() == Param.Kind.CHOICE) {
                return key;
            }
        }
        return null;
    }

    private static void normaliseQuantize(Map<String, Object> params, String mode) {
        Object weights = params.get("weights");
        if ("int8-per-channel".equals(weights) || "int8-per-tensor".equals(weights)) {
            params.put("granularity", ((String) weights).substring(5));
            params.put("weights", "int8");
        } else if (weights == null) {
            params.put("weights", "weight-only".equals(mode) ? "int4" : "int8");
        }
    }

    private Map<String, Object> defaults(Map<String, Param> schema, String mode) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (Param p : schema.values()) {
            if (mode == null || p.modes().isEmpty() || p.modes().contains(mode)) {
                values.put(p.name(), p.defaultFor(mode));
            }
        }
        return values;
    }

    private Map<String, Object> parseParams(Map<String, Param> schema, Node node, String path, String mode) {
        Map<String, Object> values = defaults(schema, mode);
        if (node instanceof ScalarNode s && (s.getValue().isEmpty() || s.getValue().equals("null") || s.getValue().equals("~"))) {
            return values; // "- eval:" with no parameters
        }
        if (!(node instanceof MappingNode mapping)) {
            error(node, path, "must be a mapping of parameters");
            return values;
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (NodeTuple t : mapping.getValue()) {
            String key = scalarKey(t, path);
            if (key == null) {
                continue;
            }
            if (!seen.add(key)) {
                error(t.getKeyNode(), path + "." + key, "is given twice");
                continue;
            }
            Param param = schema.get(key);
            String keyPath = path + "." + key;
            if (param == null) {
                error(t.getKeyNode(), keyPath, "unknown key; expected one of: " + String.join(", ", schema.keySet()));
                continue;
            }
            if (mode != null && !param.modes().isEmpty() && !param.modes().contains(mode)) {
                String modeKey = modeKey(schema);
                error(t.getKeyNode(), keyPath, "applies only to " + modeKey + ": " + String.join(", ", param.modes().stream().sorted().toList())
                        + " (this stage is " + modeKey + ": " + mode + ")");
                continue;
            }
            Object value = convert(param, t.getValueNode(), keyPath);
            if (value != null) {
                values.put(key, value);
            }
        }
        return values;
    }

    private Object convert(Param param, Node node, String path) {
        if (param.kind() == Param.Kind.OBJECT) {
            Map<String, Object> object = parseParams(param.fields(), node, path, null);
            object.values().removeIf(java.util.Objects::isNull);
            return object;
        }
        if (param.kind() == Param.Kind.STRING_LIST || param.kind() == Param.Kind.CHOICE_LIST || param.kind() == Param.Kind.INTEGER_LIST) {
            return convertList(param, node, path);
        }
        if (param.kind() == Param.Kind.INPUT_SHAPES || param.kind() == Param.Kind.INPUT_VALUES) {
            return convertInputMap(param, node, path);
        }
        if (!(node instanceof ScalarNode scalar)) {
            return bad(node, path, param, "a " + (node instanceof SequenceNode ? "list" : "mapping"));
        }
        String text = scalar.getValue().trim();
        switch (param.kind()) {
            case CHOICE -> {
                if (param.choices().contains(text)) {
                    return text;
                }
                return bad(node, path, param, "'" + text + "'");
            }
            case BOOLEAN -> {
                if (text.equals("true") || text.equals("false")) {
                    return Boolean.parseBoolean(text);
                }
                return bad(node, path, param, "'" + text + "'");
            }
            case STRING -> {
                return scalar.getValue();
            }
            case DURATION -> {
                if (DURATION.matcher(text).matches()) {
                    return text;
                }
                return bad(node, path, param, "'" + text + "'");
            }
            case INTEGER -> {
                try {
                    long v = Long.parseLong(text.replace("_", ""));
                    if (v >= param.min() && v <= param.max()) {
                        return v;
                    }
                } catch (NumberFormatException ignored) {
                    // reported below
                }
                return bad(node, path, param, "'" + text + "'");
            }
            case NUMBER, NUMBER_OR_FALSE -> {
                if (param.kind() == Param.Kind.NUMBER_OR_FALSE && text.equals("false")) {
                    return Boolean.FALSE;
                }
                try {
                    double v = Double.parseDouble(text);
                    if (v >= param.min() && v <= param.max() && !Double.isNaN(v)) {
                        return v;
                    }
                } catch (NumberFormatException ignored) {
                    // reported below
                }
                return bad(node, path, param, "'" + text + "'");
            }
            default -> throw new IllegalStateException(param.kind().name());
        }
    }

    private Object convertList(Param param, Node node, String path) {
        List<Node> items;
        if (node instanceof SequenceNode seq) {
            items = seq.getValue();
        } else if (node instanceof ScalarNode) {
            items = List.of(node); // a single value where a list is expected is accepted as a list of one
        } else {
            return bad(node, path, param, "a mapping");
        }
        List<Object> values = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            Node item = items.get(i);
            String itemPath = path + "[" + i + "]";
            if (!(item instanceof ScalarNode s)) {
                bad(item, itemPath, param, "a nested structure");
                continue;
            }
            if (param.kind() == Param.Kind.INTEGER_LIST) {
                try {
                    long v = Long.parseLong(s.getValue().trim().replace("_", ""));
                    if (v >= param.min() && v <= param.max()) {
                        values.add(v);
                        continue;
                    }
                } catch (NumberFormatException ignored) {
                    // reported below
                }
                bad(item, itemPath, param, "'" + s.getValue() + "'");
                continue;
            }
            if (param.kind() == Param.Kind.CHOICE_LIST && !param.choices().contains(s.getValue())) {
                bad(item, itemPath, param, "'" + s.getValue() + "'");
                continue;
            }
            if (path.endsWith(".patterns")) {
                try {
                    Pattern.compile(s.getValue());
                } catch (PatternSyntaxException e) {
                    error(item, itemPath, "is not a valid regular expression: " + e.getDescription());
                    continue;
                }
            }
            values.add(s.getValue());
        }
        return values;
    }

    /** Input name -> shape text ("1x512", also from a list [1, 512]) or number text, each checked like the CLI's. */
    private Object convertInputMap(Param param, Node node, String path) {
        if (!(node instanceof MappingNode mapping)) {
            return bad(node, path, param, node instanceof ScalarNode scalar ? "'" + scalar.getValue() + "'" : "a list");
        }
        boolean shapes = param.kind() == Param.Kind.INPUT_SHAPES;
        Map<String, String> values = new LinkedHashMap<>();
        for (NodeTuple t : mapping.getValue()) {
            String input = scalarKey(t, path);
            if (input == null) {
                continue;
            }
            String itemPath = path + "." + input;
            Node value = t.getValueNode();
            if (values.containsKey(input)) {
                error(t.getKeyNode(), itemPath, "is given twice");
                continue;
            }
            String text;
            if (value instanceof ScalarNode scalar) {
                text = scalar.getValue();
            } else if (shapes && value instanceof SequenceNode seq && seq.getValue().stream().allMatch(ScalarNode.class::isInstance)) {
                text = seq.getValue().stream().map(n -> ((ScalarNode) n).getValue()).collect(java.util.stream.Collectors.joining("x"));
            } else {
                bad(value, itemPath, param, "a nested structure");
                continue;
            }
            try {
                values.put(input, shapes
                        ? java.util.Arrays.stream(InputHints.parseShape(text, itemPath)).mapToObj(Long::toString).collect(java.util.stream.Collectors.joining("x"))
                        : InputHints.parseValue(text, itemPath).toString());
            } catch (ModelPressException e) {
                error(value, itemPath, e.detail());
            }
        }
        return values;
    }

    private Object bad(Node node, String path, Param param, String found) {
        error(node, path, "expected " + param.expected() + ", found " + found);
        return null;
    }

    private String scalarKey(NodeTuple t, String path) {
        if (t.getKeyNode() instanceof ScalarNode k) {
            return k.getValue();
        }
        error(t.getKeyNode(), path, "keys must be plain names");
        return null;
    }

    private void error(Node node, String path, String message) {
        errors.add(where(node.getStartMark()) + " " + path + ": " + message);
    }

    private String where(Mark mark) {
        return mark == null ? sourceName : sourceName + ":" + (mark.getLine() + 1) + ":" + (mark.getColumn() + 1);
    }

    static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(text);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }
}
