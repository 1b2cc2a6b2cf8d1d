package io.modelpress.core.prune.sparse;

import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The record of which tensors a sparsity pass masked and with which pattern, carried in the model itself (one
 * {@code metadata_props} entry, key {@value #METADATA_KEY}) so that it travels wherever the model goes and a later
 * fine-tuning can keep pruned weights at zero. The value is JSON:
 * <pre>
 * {"format": 1, "tensors": [
 *   {"name": "fc1.weight", "shape": [384, 1536], "pattern": "unstructured"},
 *   {"name": "fc2.weight", "shape": [1536, 384], "pattern": "n:m", "n": 2, "m": 4, "reduction_axes": [0]},
 *   {"name": "conv.weight", "shape": [64, 32, 3, 3], "pattern": "block", "block": [4, 4], "row_axes": [0], "col_axes": [1, 2, 3]}]}
 * </pre>
 * The mask of a listed tensor is its nonzero elements as stored ({@code mask = value != 0}): pruned elements are exact
 * zeros. n:m: along the reduction axes (flattened in stored order), every group of m consecutive elements, counted
 * from the start of the axis, holds at most n nonzeros. block: the tensor viewed as a matrix (rows: {@code row_axes}
 * flattened, columns: {@code col_axes} flattened) is tiled from the top left into [rows, cols] blocks (smaller at the
 * edges), each pruned block all zero. A trainer multiplies each listed tensor (or its gradient) by its mask after each
 * step; entries naming a tensor the model no longer holds (renamed by a later pass) are to be ignored.
 */
public final class SparsityRecord {
    public static final String METADATA_KEY = "modelpress.sparsity";
    public static final int FORMAT = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One masked tensor.
     *
     * @param pattern       unstructured, n:m or block
     * @param n             n:m only: nonzeros allowed per group (else 0)
     * @param m             n:m only: group length (else 0)
     * @param reductionAxes n:m only: the axes the groups run along (else empty)
     * @param block         block only: [rows, cols] (else empty)
     * @param rowAxes       block only: tensor axes that make the matrix rows
     * @param colAxes       block only: tensor axes that make the matrix columns
     */
    public record Entry(String name, List<Long> shape, String pattern, int n, int m, List<Integer> reductionAxes,
                        List<Integer> block, List<Integer> rowAxes, List<Integer> colAxes) {
        public Entry {
            shape = List.copyOf(shape);
            reductionAxes = List.copyOf(reductionAxes);
            block = List.copyOf(block);
            rowAxes = List.copyOf(rowAxes);
            colAxes = List.copyOf(colAxes);
        }

        static Entry unstructured(String name, long[] shape) {
            return new Entry(name, longs(shape), "unstructured", 0, 0, List.of(), List.of(), List.of(), List.of());
        }

        static Entry nOfM(String name, long[] shape, int n, int m, List<Integer> axes) {
            return new Entry(name, longs(shape), "n:m", n, m, axes, List.of(), List.of(), List.of());
        }

        static Entry block(String name, long[] shape, int rows, int cols, int split) {
            List<Integer> rowAxes = new ArrayList<>();
            List<Integer> colAxes = new ArrayList<>();
            for (int a = 0; a < shape.length; a++) {
                (a < split ? rowAxes : colAxes).add(a);
            }
            return new Entry(name, longs(shape), "block", 0, 0, List.of(), List.of(rows, cols), rowAxes, colAxes);
        }

        private static List<Long> longs(long[] values) {
            return java.util.Arrays.stream(values).boxed().toList();
        }

        ObjectNode toJson() {
            ObjectNode json = JSON.createObjectNode();
            json.put("name", name);
            ArrayNode dims = json.putArray("shape");
            shape.forEach(dims::add);
            json.put("pattern", pattern);
            if (pattern.equals("n:m")) {
                json.put("n", n);
                json.put("m", m);
                ArrayNode axes = json.putArray("reduction_axes");
                reductionAxes.forEach(axes::add);
            } else if (pattern.equals("block")) {
                ArrayNode b = json.putArray("block");
                block.forEach(b::add);
                ArrayNode rows = json.putArray("row_axes");
                rowAxes.forEach(rows::add);
                ArrayNode cols = json.putArray("col_axes");
                colAxes.forEach(cols::add);
            }
            return json;
        }

        static Entry of(JsonNode json) {
            return new Entry(json.path("name").asText(), longList(json.path("shape")), json.path("pattern").asText(),
                    json.path("n").asInt(0), json.path("m").asInt(0), intList(json.path("reduction_axes")),
                    intList(json.path("block")), intList(json.path("row_axes")), intList(json.path("col_axes")));
        }
    }

    private SparsityRecord() {
    }

    /** The entries recorded in the model, in order; empty when it has no record. */
    public static List<Entry> read(OnnxModel model) {
        for (StringStringEntryProto prop : model.proto().getMetadataPropsList()) {
            if (prop.getKey().equals(METADATA_KEY)) {
                try {
                    JsonNode root = JSON.readTree(prop.getValue());
                    List<Entry> entries = new ArrayList<>();
                    root.path("tensors").forEach(t -> entries.add(Entry.of(t)));
                    return entries;
                } catch (JsonProcessingException e) {
                    throw new ModelPressException(ErrorCode.INVALID_GRAPH, "metadata '" + METADATA_KEY + "'", "is not valid JSON: "
                            + e.getOriginalMessage());
                }
            }
        }
        return List.of();
    }

    /** Adds entries to the model's record; an entry for a tensor already listed replaces the old one. */
    static void add(OnnxModel model, List<Entry> entries) {
        Map<String, Entry> merged = new LinkedHashMap<>();
        read(model).forEach(e -> merged.put(e.name(), e));
        entries.forEach(e -> merged.put(e.name(), e));
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        ArrayNode tensors = root.putArray("tensors");
        merged.values().forEach(e -> tensors.add(e.toJson()));
        String value = root.toString();
        var proto = model.proto();
        for (int i = 0; i < proto.getMetadataPropsCount(); i++) {
            if (proto.getMetadataProps(i).getKey().equals(METADATA_KEY)) {
                proto.setMetadataProps(i, StringStringEntryProto.newBuilder().setKey(METADATA_KEY).setValue(value));
                return;
            }
        }
        proto.addMetadataProps(StringStringEntryProto.newBuilder().setKey(METADATA_KEY).setValue(value));
    }

    private static List<Long> longList(JsonNode array) {
        List<Long> out = new ArrayList<>();
        array.forEach(v -> out.add(v.asLong()));
        return out;
    }

    private static List<Integer> intList(JsonNode array) {
        List<Integer> out = new ArrayList<>();
        array.forEach(v -> out.add(v.asInt()));
        return out;
    }
}
