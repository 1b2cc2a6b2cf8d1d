package io.modelpress.core.convert;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.graph.PassReport;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What a float16 conversion did, for report.json and the CLI. */
public final class ConversionReport extends PassReport {
    /** Why a node stays float32. */
    public enum Rule {
        /** the operator, its domain or its subgraphs have no float16 form here */
        OPERATOR,
        /** the recipe's include/exclude lists */
        RECIPE,
        /** it reads a constant beyond float16's range */
        RANGE,
        /** it reads a constant that float16 would change materially */
        ROUNDING,
        /** it compares with a threshold that float16 would round */
        THRESHOLD,
        /** it computes the float scales or region of a Resize */
        RESIZE,
        /** its output or input went beyond float16's range on the check data */
        OVERFLOW,
        /** the model's outputs missed the check until it stayed float32 */
        OUTPUT_CHECK;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** A node left in float32, and why. */
    public record KeptNode(String node, String opType, Rule rule, String reason) {
    }

    /**
     * The check of the converted model against the float32 original in ONNX Runtime.
     *
     * @param data      what the models ran on: a data file's name, or synthetic inputs
     * @param samples   samples compared
     * @param minCosine the bound every float output's cosine (per batch) must meet
     * @param attempts  conversions tried, each keeping more nodes in float32 than the one before
     * @param cosines   the lowest cosine of each float output over the batches, in the last attempt
     * @param failure   why the check failed, or null when it passed
     */
    public record Check(String data, int samples, double minCosine, int attempts, Map<String, Double> cosines,
                        String failure) {
        public Check {
            cosines = Collections.unmodifiableMap(new LinkedHashMap<>(cosines));
        }

        public boolean passed() {
            return failure == null;
        }
    }

    private final String target;
    private int convertedNodes;
    private final List<KeptNode> keptNodes = new ArrayList<>();
    private int castsInserted;
    private int tensorsConverted;
    private long floatBytesBefore;
    private long floatBytesAfter;
    private long clampedValues;
    private long raisedValues;
    private Check check;

    public ConversionReport(String target) {
        this.target = target;
    }

    void converted() {
        convertedNodes++;
    }

    void kept(String node, String opType, Rule rule, String reason) {
        keptNodes.add(new KeptNode(node, opType, rule, reason));
    }

    void cast() {
        castsInserted++;
    }

    void tensor(long bytesBefore, long bytesAfter, long clamped, long raised) {
        tensorsConverted++;
        floatBytesBefore += bytesBefore;
        floatBytesAfter += bytesAfter;
        clampedValues += clamped;
        raisedValues += raised;
    }

    void check(Check value) {
        check = value;
    }

    public String target() {
        return target;
    }

    /** Nodes that now compute in the target type. */
    public int convertedNodes() {
        return convertedNodes;
    }

    @Override
    public long changedCount() {
        return convertedNodes;
    }

    public List<KeptNode> keptNodes() {
        return Collections.unmodifiableList(keptNodes);
    }

    public int castsInserted() {
        return castsInserted;
    }

    /** Stored float32 tensors (initializers, Constant values) rewritten in the target type. */
    public int tensorsConverted() {
        return tensorsConverted;
    }

    public long floatBytesBefore() {
        return floatBytesBefore;
    }

    public long floatBytesAfter() {
        return floatBytesAfter;
    }

    /** Stored values beyond the target type's finite range, saturated to its largest finite value. */
    public long clampedValues() {
        return clampedValues;
    }

    /** Stored non-zero values too small for the target type, kept non-zero as its smallest step instead of zero. */
    public long raisedValues() {
        return raisedValues;
    }

    /** The check against the float32 model, or null when none was run. */
    public Check check() {
        return check;
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = newJson();
        json.put("to", target);
        json.put("converted_nodes", convertedNodes);
        json.put("kept_float32_nodes", keptNodes.size());
        json.put("casts_inserted", castsInserted);
        json.put("tensors_converted", tensorsConverted);
        json.put("tensor_bytes_before", floatBytesBefore);
        json.put("tensor_bytes_after", floatBytesAfter);
        json.put("clamped_values", clampedValues);
        json.put("raised_tiny_values", raisedValues);
        ArrayNode kept = json.putArray("kept");
        for (KeptNode k : keptNodes) {
            kept.addObject().put("node", k.node()).put("op", k.opType()).put("rule", k.rule().label()).put("reason", k.reason());
        }
        if (check == null) {
            json.put("check", "not run: only the static rules were applied");
        } else {
            ObjectNode c = json.putObject("check");
            c.put("passed", check.passed());
            c.put("data", check.data());
            c.put("samples", check.samples());
            c.put("min_cosine", check.minCosine());
            c.put("attempts", check.attempts());
            ObjectNode cosines = c.putObject("cosine");
            check.cosines().forEach(cosines::put);
            if (!check.passed()) {
                c.put("failure", check.failure());
            }
        }
        return json;
    }
}
