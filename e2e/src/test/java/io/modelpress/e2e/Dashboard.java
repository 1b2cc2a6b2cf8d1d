package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Grafana dashboard's panels and their PromQL queries, and the Prometheus recording rules beside it. The metric
 * names a query reads are told apart from functions, keywords, label names and durations by a few patterns: enough for
 * the queries of a dashboard, not a PromQL parser.
 */
record Dashboard(List<Panel> panels) {
    static final String FILE = "deploy/grafana/dashboards/modelpress.json";
    static final String RULES = "deploy/prometheus/rules";

    /** Grafana's interval variables, which Grafana replaces before a query reaches Prometheus. */
    private static final Pattern INTERVAL_VARIABLES = Pattern.compile("\\$__rate_interval|\\$__interval|\\$__range");
    /** Removed before names are looked for: strings, label matchers, range and subquery brackets, grouping label lists. */
    private static final List<Pattern> NOT_NAMES = List.of(
            Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`"),
            Pattern.compile("\\{[^}]*\\}|\\[[^\\]]*\\]"),
            Pattern.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)"));
    /** An identifier that is not part of a number or duration and is not called (a function or an aggregation). */
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w:.])[a-zA-Z_:][\\w:]*+(?!\\s*\\()");
    private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "atan2", "bool", "offset", "by", "without", "on",
            "ignoring", "group_left", "group_right", "inf", "nan");

    /** A dashboard panel; a row only groups panels and has no queries of its own. */
    record Panel(String title, String type, List<Query> queries) {
        boolean isRow() {
            return "row".equals(type);
        }
    }

    /** One target of a panel: its PromQL as written in the dashboard. */
    record Query(String panel, String refId, String expr) {
        /** How the test names it, e.g. {@code Queue lag (stage requests waiting) [A]}. */
        String id() {
            return panel + " [" + refId + "]";
        }

        /** The expression as Grafana would send it, its interval variables replaced by {@code window} (e.g. 1m). */
        String withWindow(String window) {
            String promql = INTERVAL_VARIABLES.matcher(expr).replaceAll(window);
            if (promql.contains("$")) {
                throw new AssertionError(id() + " uses a dashboard variable the test does not know how to replace: " + expr);
            }
            return promql;
        }

        Set<String> metricNames() {
            return Dashboard.metricNames(expr);
        }
    }

    static Dashboard read(Path projectRoot) throws IOException {
        JsonNode dashboard = new ObjectMapper().readTree(projectRoot.resolve(FILE).toFile());
        List<Panel> panels = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            panels.add(panel(panel));
            // a collapsed row keeps its panels inside it
            for (JsonNode inner : panel.path("panels")) {
                panels.add(panel(inner));
            }
        }
        return new Dashboard(List.copyOf(panels));
    }

    private static Panel panel(JsonNode panel) {
        String title = panel.path("title").asText();
        List<Query> queries = new ArrayList<>();
        for (JsonNode target : panel.path("targets")) {
            queries.add(new Query(title, target.path("refId").asText(), target.path("expr").asText()));
        }
        return new Panel(title, panel.path("type").asText(), List.copyOf(queries));
    }

    List<Query> queries() {
        return panels.stream().flatMap(p -> p.queries().stream()).toList();
    }

    /** The metric names (and recording rule names) a PromQL expression reads. */
    static Set<String> metricNames(String promql) {
        String rest = promql;
        for (Pattern notNames : NOT_NAMES) {
            rest = notNames.matcher(rest).replaceAll(" ");
        }
        Set<String> names = new TreeSet<>();
        Matcher identifier = IDENTIFIER.matcher(rest);
        while (identifier.find()) {
            if (!KEYWORDS.contains(identifier.group().toLowerCase(java.util.Locale.ROOT))) {
                names.add(identifier.group());
            }
        }
        return names;
    }

    /** The recording rules of every rule file: the name each records, and its expression. */
    @SuppressWarnings("unchecked")
    static Map<String, String> recordingRules(Path projectRoot) throws IOException {
        Map<String, String> rules = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(projectRoot.resolve(RULES))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yml")).sorted().toList()) {
                Map<String, Object> content = new Yaml().load(Files.readString(file));
                for (Map<String, Object> group : (List<Map<String, Object>>) content.get("groups")) {
                    for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
                        if (rule.containsKey("record")) {
                            rules.put((String) rule.get("record"), (String) rule.get("expr"));
                        }
                    }
                }
            }
        }
        return rules;
    }
}
