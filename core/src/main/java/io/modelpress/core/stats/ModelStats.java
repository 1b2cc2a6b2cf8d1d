package io.modelpress.core.stats;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ExternalData;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ShapeInference;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.ValueShape;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a model is made of: parameters, bytes by element type, operator histogram, MACs of the compute-heavy operators,
 * and weight sparsity. {@link #toJson()} keys are part of the CLI's stable output (see docs/cli.md).
 *
 * @param parameters     elements of stored numeric tensors, except int64/bool ones (shapes, indices, masks)
 * @param macs           multiply-accumulates per inference at {@code assumedDims} of the nodes that could be counted;
 *                       0 only when no node multiply-accumulates, null when some do but none could be counted
 * @param sparsity       fraction of exact zeros among floating-point weights
 * @param uncountedMacOps nodes that multiply-accumulate but were not counted, by operator (as in {@code ops}): shapes
 *                       unknown, inside a subgraph, or an operator without a counting rule (see MacCounter)
 */
public record ModelStats(
        long fileBytes,
        long externalDataBytes,
        long irVersion,
        Map<String, Long> opsets,
        String producer,
        List<ValueShape> inputs,
        List<ValueShape> outputs,
        long nodes,
        Map<String, Integer> ops,
        long parameters,
        Map<String, Long> bytesByType,
        double sparsity,
        Long macs,
        Map<String, Long> macsByOp,
        Map<String, Long> assumedDims,
        Map<String, Integer> uncountedMacOps) {

    public record Options(Map<String, Long> dimValues, boolean inferShapes) {
        public static final Options DEFAULT = new Options(Map.of(), true);
    }

    public static ModelStats of(Path file, OnnxModel model, Options options) {
        var graph = model.build().getGraph();
        Map<String, Long> opsets = new LinkedHashMap<>();
        for (OperatorSetIdProto o : model.proto().getOpsetImportList()) {
            opsets.put(o.getDomain().isEmpty() ? "ai.onnx" : o.getDomain(), o.getVersion());
        }
        Map<String, Integer> ops = new TreeMap<>();
        Graphs.forEachGraph(graph, (path, g) -> {
            for (NodeProto n : g.getNodeList()) {
                ops.merge(opName(n), 1, Integer::sum);
            }
        });
        long[] params = {0};
        long[] zeros = {0};
        long[] floats = {0};
        Map<String, Long> bytesByType = new TreeMap<>();
        Graphs.forEachTensor(graph, (path, owner, t) -> {
            DataType type = DataType.of(t);
            long elements = Tensors.elementCount(t);
            bytesByType.merge(type.displayName(), Math.max(0, Tensors.expectedBytes(t)), Long::sum);
            if (type != DataType.INT64 && type != DataType.BOOL && type != DataType.STRING) {
                params[0] += elements;
            }
            if (type.isFloatingPoint()) {
                floats[0] += elements;
                zeros[0] += countZeros(model, t, type);
            }
        });
        long externalBytes = 0;
        for (Path external : model.externalFiles()) {
            externalBytes += size(external);
        }
        MacTotals macs = countMacs(model, options);
        return new ModelStats(size(file), externalBytes, model.proto().getIrVersion(), opsets,
                (model.proto().getProducerName() + " " + model.proto().getProducerVersion()).trim(),
                model.inputs(), model.outputs(),
                Graphs.nodeCount(graph), sortByCount(ops), params[0], bytesByType,
                floats[0] == 0 ? 0.0 : (double) zeros[0] / floats[0],
                macs.total, macs.byOp, macs.assumed, macs.uncounted);
    }

    private static long countZeros(OnnxModel model, TensorProto t, DataType type) {
        ByteBuffer raw = model.bytes(t);
        long zeros = 0;
        int width = type.bits() / 8;
        int n = raw.remaining() / width;
        for (int i = 0; i < n; i++) {
            boolean zero = switch (width) {
                case 8 -> raw.getDouble(i * 8) == 0.0;
                case 4 -> raw.getFloat(i * 4) == 0.0f;
                case 2 -> (raw.getShort(i * 2) & 0x7fff) == 0;
                default -> (raw.get(i) & 0x7f) == 0;
            };
            if (zero) {
                zeros++;
            }
        }
        return zeros;
    }

    /** Nodes that multiply-accumulate but were not counted, in total. */
    public int uncountedMacNodes() {
        return uncountedMacOps.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** An operator as the histogram names it: {@code MatMul}, or {@code domain.Op} outside the default domain. */
    private static String opName(NodeProto n) {
        return n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType() : n.getDomain() + "." + n.getOpType();
    }

    private record MacTotals(Long total, Map<String, Long> byOp, Map<String, Long> assumed, Map<String, Integer> uncounted) {
    }

    private static MacTotals countMacs(OnnxModel model, Options options) {
        // Shapes are known (declared or measured) for main-graph values only: nodes with a rule there are counted,
        // every other node that multiply-accumulates is listed as not counted.
        List<NodeProto> countable = new ArrayList<>();
        List<String> wanted = new ArrayList<>();
        Map<String, Integer> uncounted = new TreeMap<>();
        Graphs.forEachGraph(model.graph().build(), (path, g) -> {
            for (NodeProto n : g.getNodeList()) {
                MacCounter.Rule rule = MacCounter.ruleFor(n);
                if (rule != null && path.equals("main")) {
                    countable.add(n);
                    rule.needs(n).stream().filter(v -> !v.isEmpty()).forEach(wanted::add);
                } else if (MacCounter.hasMacs(n)) {
                    uncounted.merge(opName(n), 1, Integer::sum);
                }
            }
        });
        if (countable.isEmpty()) {
            return new MacTotals(uncounted.isEmpty() ? 0L : null, Map.of(), Map.of(), uncounted);
        }
        ShapeInference.Shapes shapes;
        if (options.inferShapes()) {
            shapes = ShapeInference.infer(model, wanted, options.dimValues());
        } else {
            shapes = new ShapeInference.Shapes(ShapeInference.declared(model), Map.of());
        }
        long total = 0;
        int counted = 0;
        Map<String, Long> byOp = new TreeMap<>();
        for (NodeProto n : countable) {
            var macs = MacCounter.ruleFor(n).macs(n, shapes);
            if (macs.isPresent()) {
                total += macs.getAsLong();
                counted++;
                byOp.merge(n.getOpType(), macs.getAsLong(), Long::sum);
            } else {
                uncounted.merge(opName(n), 1, Integer::sum);
            }
        }
        return new MacTotals(counted == 0 ? null : total, byOp, shapes.assumedDims(), uncounted);
    }

    private static Map<String, Integer> sortByCount(Map<String, Integer> ops) {
        Map<String, Integer> sorted = new LinkedHashMap<>();
        ops.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder())
                .thenComparing(Map.Entry.comparingByKey())).forEach(e -> sorted.put(e.getKey(), e.getValue()));
        return sorted;
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + file.getFileName(), "cannot be read: " + e.getMessage(), e);
        }
    }

    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode json = f.objectNode();
        json.put("file_bytes", fileBytes);
        json.put("external_data_bytes", externalDataBytes);
        json.put("ir_version", irVersion);
        ObjectNode opsetNode = json.putObject("opsets");
        opsets.forEach(opsetNode::put);
        json.put("producer", producer);
        ObjectNode in = json.putObject("inputs");
        inputs.forEach(v -> in.set(v.name(), shapeJson(v)));
        ObjectNode out = json.putObject("outputs");
        outputs.forEach(v -> out.set(v.name(), shapeJson(v)));
        json.put("nodes", nodes);
        ObjectNode opsNode = json.putObject("ops");
        ops.forEach(opsNode::put);
        json.put("parameters", parameters);
        ObjectNode bytes = json.putObject("bytes_by_type");
        bytesByType.forEach(bytes::put);
        json.put("sparsity", sparsity);
        if (macs == null) {
            json.putNull("macs");
        } else {
            json.put("macs", macs);
        }
        ObjectNode macNode = json.putObject("macs_by_op");
        macsByOp.forEach(macNode::put);
        ObjectNode assumed = json.putObject("macs_assumed_dims");
        assumedDims.forEach(assumed::put);
        json.put("macs_uncounted_nodes", uncountedMacNodes());
        ObjectNode uncountedNode = json.putObject("macs_uncounted_ops");
        uncountedMacOps.forEach(uncountedNode::put);
        return json;
    }

    private static ObjectNode shapeJson(ValueShape v) {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        node.put("type", v.type() == null ? null : v.type().displayName());
        var dims = node.putArray("shape");
        v.dims().forEach(d -> {
            if (d.isFixed()) {
                dims.add(d.value());
            } else {
                dims.add(d.toString());
            }
        });
        return node;
    }
}
