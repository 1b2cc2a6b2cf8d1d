package io.modelpress.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Human-friendly number formatting for terminal output, and the one JSON printer of the CLI. */
final class Format {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Format() {
    }

    static String bytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KB", "MB", "GB", "TB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    static String count(long n) {
        if (n < 10_000) {
            return Long.toString(n);
        }
        String[] units = {"K", "M", "G", "T"};
        double value = n;
        int unit = -1;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return String.format(Locale.ROOT, "%.2f%s", value, units[unit]);
    }

    /**
     * A report number with {@code decimals} places. Reports write NaN and infinities as null (JSON has no NaN), so
     * null prints as "NaN": a model that returned NaN must not look like a cosine of 0.
     */
    static String decimal(JsonNode value, int decimals) {
        if (value == null || value.isNull()) {
            return "NaN";
        }
        return String.format(Locale.ROOT, "%." + decimals + "f", value.asDouble());
    }

    /**
     * The latency verdicts of a report ({@code latency_vs_reference} of an evaluation, {@code latency_vs_input} of a
     * compress summary), one sentence per batch size, e.g. "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)".
     */
    static List<String> speed(JsonNode comparisons) {
        List<String> lines = new ArrayList<>();
        for (String key : List.of("batch_1", "batch_N")) {
            JsonNode text = comparisons == null ? null : comparisons.path(key).get("text");
            if (text != null) {
                lines.add(text.asText());
            }
        }
        return lines;
    }

    /** A report's gate verdict ("passed", "failed" or "none") for people; "none" says that there was no gate. */
    static String gate(String verdict) {
        return "none".equals(verdict) ? "none (the recipe sets no quality gate)" : verdict;
    }

    static String json(JsonNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
