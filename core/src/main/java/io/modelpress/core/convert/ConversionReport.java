package io.modelpress.core.convert;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a float16 conversion did, for report.json and the CLI. */
public final class ConversionReport {
    /** A node left in float32, and why. */
    public record KeptNode(String node, String opType, String reason) {
    }

    private final String target;
    private int convertedNodes;
    private final List<KeptNode> keptNodes = new ArrayList<>();
    private int castsInserted;
    private int tensorsConverted;
    private long floatBytesBefore;
    private long floatBytesAfter;
    private long clampedValues;

    public ConversionReport(String target) {
        this.target = target;
    }

    void converted() {
        convertedNodes++;
    }

    void kept(String node, String opType, String reason) {
        keptNodes.add(new KeptNode(node, opType, reason));
    }

    void cast() {
        castsInserted++;
    }

    void tensor(long bytesBefore, long bytesAfter, long clamped) {
        tensorsConverted++;
        floatBytesBefore += bytesBefore;
        floatBytesAfter += bytesAfter;
        clampedValues += clamped;
    }

    public String target() {
        return target;
    }

    /** Nodes that now compute in the target type. */
    public int convertedNodes() {
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

    public ObjectNode toJson() {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.put("to", target);
        json.put("converted_nodes", convertedNodes);
        json.put("kept_float32_nodes", keptNodes.size());
        json.put("casts_inserted", castsInserted);
        json.put("tensors_converted", tensorsConverted);
        json.put("tensor_bytes_before", floatBytesBefore);
        json.put("tensor_bytes_after", floatBytesAfter);
        json.put("clamped_values", clampedValues);
        ArrayNode kept = json.putArray("kept");
        for (KeptNode k : keptNodes) {
            kept.addObject().put("node", k.node()).put("op", k.opType()).put("reason", k.reason());
        }
        return json;
    }
}
