package io.modelpress.core.report;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;

/** Reading values out of stage reports (JSON trees), the report's way: NaN, infinities and absent values are null. */
final class JsonValues {
    private JsonValues() {
    }

    /** A finite number, else null (reports write NaN as null; a stage report may hold a number as text). */
    static Double number(JsonNode node) {
        if (node == null || !node.isNumber()) {
            return null;
        }
        double value = node.asDouble();
        return Double.isFinite(value) ? value : null;
    }

    static String text(JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    /**
     * The tree as it reads back from report.json (an int where a long was put, a double where a float was), so that a
     * report equals itself after a round trip; null for null, missing or JSON null.
     */
    static JsonNode normalized(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return null;
        }
        try {
            return RunReports.MAPPER.readTree(RunReports.MAPPER.writeValueAsBytes(node));
        } catch (IOException e) {
            throw new UncheckedIOException("a JSON tree that does not read back", e);
        }
    }
}
