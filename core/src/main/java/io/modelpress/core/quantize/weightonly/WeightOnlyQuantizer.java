package io.modelpress.core.quantize.weightonly;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.StageSpec;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Weight-only quantization for ONNX Runtime: activations stay float, constant weights are stored as block-wise 4- or
 * 8-bit codes and dequantized inside the kernel.
 * <ul>
 *   <li>MatMul with a constant 2-D weight [K, N] becomes com.microsoft MatMulNBits (blocks along K).</li>
 *   <li>Gemm with a constant B becomes MatMulNBits (alpha folded into the weight), plus an Add for C.</li>
 *   <li>Gather from a constant 2-D table along axis 0 (embeddings) becomes com.microsoft GatherBlockQuantized
 *       (blocks along each row), so only the gathered rows are dequantized.</li>
 * </ul>
 * Weights may live in initializers or Constant nodes, in the main graph or in If/Loop/Scan bodies. Nodes that cannot
 * be converted stay as they are and are listed in the report with the reason.
 */
public final class WeightOnlyQuantizer {
    static final String MS_DOMAIN = "com.microsoft";

    private WeightOnlyQuantizer() {
    }

    /** Quantizes in place with round-to-nearest; the stage must be a {@code quantize} stage in mode weight-only. */
    public static QuantizationReport quantize(OnnxModel model, StageSpec spec) {
        return quantize(model, spec, new RoundToNearest());
    }

    public static QuantizationReport quantize(OnnxModel model, StageSpec spec, BlockRounding rounding) {
        return quantize(model, options(spec), spec.selector(), rounding);
    }

    /** Settings read from a recipe stage. */
    public record Options(BlockFormat format, int accuracyLevel) {
    }

    public static Options options(StageSpec spec) {
        String where = "stages[" + spec.index() + "].quantize";
        if (!"weight-only".equals(spec.string("mode"))) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, where, "mode must be weight-only for this pass, not " + spec.string("mode"));
        }
        if (spec.has("granularity")) {
            // the parser turns "int8-per-channel" into int8 plus a granularity
            throw new ModelPressException(ErrorCode.BAD_RECIPE, where + ".weights", "'int8-" + spec.string("granularity")
                    + "' is not a weight-only type: weight-only scales are block-wise; use int8 (or int4) with block_size");
        }
        String weights = spec.has("weights") ? spec.string("weights") : "int4";
        int bits = switch (weights) {
            case "int4", "uint4" -> 4;
            case "int8", "uint8" -> 8;
            default -> throw new ModelPressException(ErrorCode.BAD_RECIPE, where + ".weights",
                    "'" + weights + "' is not a weight-only type; use int4, uint4, int8 or uint8");
        };
        long blockSize = spec.has("block_size") ? spec.integer("block_size") : 32;
        if (blockSize < 16 || Long.bitCount(blockSize) != 1) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, where + ".block_size",
                    "must be a power of two of at least 16 (ONNX Runtime's MatMulNBits requires it), not " + blockSize);
        }
        boolean symmetric = !spec.has("symmetric_weights") || spec.bool("symmetric_weights");
        int accuracy = spec.has("accuracy_level") ? (int) spec.integer("accuracy_level") : 4;
        return new Options(new BlockFormat(bits, (int) blockSize, symmetric), accuracy);
    }

    public static QuantizationReport quantize(OnnxModel model, Options options, NodeSelector selector, BlockRounding rounding) {
        Pass pass = new Pass(model, options, selector, rounding);
        pass.run();
        return pass.report;
    }

    /** A graph and the graphs around it, innermost first: where names are looked up. */
    private record Scope(GraphProto.Builder graph, Scope parent, String path) {
    }

    /** A constant found in some scope. */
    private record Constant(Scope scope, TensorProto tensor) {
    }

    /** The initializers that replaced one float weight. */
    private record Replacement(String codes, String scales, String zeroPoints, BlockQuantized quantized) {
    }

    /** Rewrites one operator type into its weight-only form, or throws {@link Skip} to leave the node as it is. */
    @FunctionalInterface
    private interface OperatorHandler {
        List<NodeProto> rewrite(NodeProto node, Scope scope);
    }

    private static final class Pass {
        /** The handlers by operator type (default domain); other operators are left as they are. */
        private final Map<String, OperatorHandler> handlers = Map.of(
                "MatMul", this::matMul,
                "Gemm", this::gemm,
                "Gather", this::gather);
        private final OnnxModel model;
        private final Options options;
        private final BlockFormat format;
        private final NodeSelector selector;
        private final BlockRounding rounding;
        private final QuantizationReport report = new QuantizationReport("weight-only");
        private final UniqueNames names;
        private final Map<String, Replacement> done = new HashMap<>();
        /** Float weights that were replaced, with the scope that defines them, for removal when unused. */
        private final Map<String, Scope> replaced = new LinkedHashMap<>();
        private long floatBytes;
        private long quantizedBytes;

        Pass(OnnxModel model, Options options, NodeSelector selector, BlockRounding rounding) {
            this.model = model;
            this.options = options;
            this.format = options.format();
            this.selector = selector;
            this.rounding = rounding;
            this.names = UniqueNames.of(model.graph());
        }

        void run() {
            process(new Scope(model.graph(), null, "main"));
            removeUnused();
            if (report.quantizedCount() > 0) {
                if (model.opset(MS_DOMAIN) == 0) {
                    model.setOpset(MS_DOMAIN, 1);
                }
                if (model.proto().getIrVersion() < 4) {
                    // IR 3 requires every initializer to be a graph input; IR 4 reads the existing ones the same way
                    model.proto().setIrVersion(4);
                }
            }
            if (report.quantizedCount() == 0) {
                report.nothingToQuantize("MatMul or Gemm with a constant 2-D float weight and no Gather from a constant 2-D float "
                        + "table (the operators weight-only mode quantizes)");
            }
            report.note("format", format.describe());
            report.note("rounding", rounding.name());
            report.note("accuracy_level", Integer.toString(options.accuracyLevel()));
            report.note("weight_bytes_before", Long.toString(floatBytes));
            report.note("weight_bytes_after", Long.toString(quantizedBytes));
        }

        private void process(Scope scope) {
            GraphProto.Builder graph = scope.graph();
            for (int i = 0; i < graph.getNodeCount(); i++) {
                NodeProto.Builder node = graph.getNodeBuilder(i);
                for (AttributeProto.Builder attribute : node.getAttributeBuilderList()) {
                    String path = scope.path() + "/" + Graphs.nodeLabel(node.build()) + "." + attribute.getName();
                    if (attribute.hasG()) {
                        process(new Scope(attribute.getGBuilder(), scope, path));
                    }
                    for (int g = 0; g < attribute.getGraphsCount(); g++) {
                        process(new Scope(attribute.getGraphsBuilder(g), scope, path + "[" + g + "]"));
                    }
                }
            }
            List<NodeProto> rewritten = new ArrayList<>(graph.getNodeCount());
            for (NodeProto node : graph.getNodeList()) {
                rewritten.addAll(rewrite(node, scope));
            }
            graph.clearNode().addAllNode(rewritten);
        }

        private List<NodeProto> rewrite(NodeProto node, Scope scope) {
            OperatorHandler handler = handlers.get(node.getOpType());
            if (handler == null || !ModelValidator.isDefaultDomain(node.getDomain())) {
                return List.of(node);
            }
            try {
                return handler.rewrite(node, scope);
            } catch (Skip skip) {
                if (skip.report) {
                    report.skipped(Graphs.nodeLabel(node), node.getOpType(), skip.getMessage());
                }
                return List.of(node);
            }
        }

        // ------------------------------------------------------------------ MatMul and Gemm -> MatMulNBits

        private List<NodeProto> matMul(NodeProto node, Scope scope) {
            checkSelected(node, true);
            Constant b = floatMatrix(node, 1, scope, "B");
            long[] dims = Tensors.dims(b.tensor());
            int k = (int) dims[0];
            int n = (int) dims[1];
            Replacement r = replacement(b, "", k, n, () -> Tensors.transpose(model.floats(b.tensor()), k, n));
            report.quantized(Graphs.nodeLabel(node), "MatMul", scheme("MatMulNBits"), r.quantized().scales());
            return List.of(matMulNBits(node.getName(), node.getInput(0), r, k, n, node.getOutput(0)));
        }

        private List<NodeProto> gemm(NodeProto node, Scope scope) {
            checkSelected(node, true);
            if (Nodes.intAttribute(node, "transA", 0) != 0) {
                throw new Skip("transA=1 is not supported (A would need a Transpose)", true);
            }
            Constant b = floatMatrix(node, 1, scope, "B");
            boolean transB = Nodes.intAttribute(node, "transB", 0) != 0;
            float alpha = Nodes.floatAttribute(node, "alpha", 1f);
            float beta = Nodes.floatAttribute(node, "beta", 1f);
            String c = node.getInputCount() > 2 ? node.getInput(2) : "";
            String bias = c;
            Optional<Constant> constantC = c.isEmpty() ? Optional.empty() : findConstant(scope, c);
            if (!c.isEmpty() && beta != 1f) {
                if (constantC.isEmpty() || DataType.of(constantC.get().tensor()) != DataType.FLOAT) {
                    throw new Skip("C is not a float constant and beta is " + beta, true);
                }
            }
            long[] dims = Tensors.dims(b.tensor());
            int k = (int) (transB ? dims[1] : dims[0]);
            int n = (int) (transB ? dims[0] : dims[1]);
            String variant = (transB ? "T" : "") + (alpha != 1f ? "*" + alpha : "");
            Replacement r = replacement(b, variant, k, n, () -> {
                float[] w = model.floats(b.tensor());
                float[] lines = transB ? w.clone() : Tensors.transpose(w, k, n);
                if (alpha != 1f) {
                    for (int i = 0; i < lines.length; i++) {
                        lines[i] *= alpha;
                    }
                }
                return lines;
            });
            List<NodeProto> out = new ArrayList<>();
            if (!c.isEmpty() && beta != 1f) {
                TensorProto scaledC = constantC.get().tensor();
                float[] values = model.floats(scaledC);
                for (int i = 0; i < values.length; i++) {
                    values[i] *= beta;
                }
                bias = names.fresh(c + "_beta");
                scope.graph().addInitializer(Tensors.ofFloats(bias, Tensors.dims(scaledC), values));
                replaced.put(c, constantC.get().scope());
            }
            report.quantized(Graphs.nodeLabel(node), "Gemm", scheme("MatMulNBits" + (c.isEmpty() ? "" : " + Add")), r.quantized().scales());
            if (c.isEmpty()) {
                out.add(matMulNBits(node.getName(), node.getInput(0), r, k, n, node.getOutput(0)));
            } else {
                String product = names.fresh(node.getOutput(0) + "_product");
                out.add(matMulNBits(node.getName(), node.getInput(0), r, k, n, product));
                out.add(Nodes.node("Add", names.fresh(node.getName() + "_bias"), List.of(product, bias), List.of(node.getOutput(0))));
            }
            return out;
        }

        private NodeProto matMulNBits(String name, String a, Replacement r, int k, int n, String output) {
            List<String> inputs = new ArrayList<>(List.of(a, r.codes(), r.scales()));
            if (r.zeroPoints() != null) {
                inputs.add(r.zeroPoints());
            }
            return Nodes.node(MS_DOMAIN, "MatMulNBits", name, inputs, List.of(output),
                    Nodes.attr("K", (long) k), Nodes.attr("N", (long) n), Nodes.attr("bits", (long) format.bits()),
                    Nodes.attr("block_size", (long) format.blockSize()), Nodes.attr("accuracy_level", (long) options.accuracyLevel()));
        }

        // ------------------------------------------------------------------ Gather -> GatherBlockQuantized

        private List<NodeProto> gather(NodeProto node, Scope scope) {
            Optional<Constant> data = findConstant(scope, node.getInput(0));
            if (data.isEmpty() || DataType.of(data.get().tensor()) != DataType.FLOAT) {
                // index arithmetic on shapes and the like: not a weight, not worth a report line
                throw new Skip("data is not a float constant", false);
            }
            checkSelected(node, true);
            Constant table = floatMatrix(node, 0, scope, "data");
            long axis = Nodes.intAttribute(node, "axis", 0);
            if (axis != 0 && axis != -2) {
                throw new Skip("gathers along axis " + axis + "; only axis 0 (rows of an embedding table) is supported", true);
            }
            long[] dims = Tensors.dims(table.tensor());
            int rows = (int) dims[0];
            int width = (int) dims[1];
            if (width * format.bits() % 8 != 0) {
                throw new Skip("rows of " + width + " values do not fill whole bytes at " + format.bits() + " bits", true);
            }
            Replacement r = replacement(table, "rows", width, rows, () -> model.floats(table.tensor()));
            List<String> inputs = new ArrayList<>(List.of(r.codes(), node.getInput(1), r.scales()));
            if (r.zeroPoints() != null) {
                inputs.add(r.zeroPoints());
            }
            report.quantized(Graphs.nodeLabel(node), "Gather", scheme("GatherBlockQuantized"), r.quantized().scales());
            return List.of(Nodes.node(MS_DOMAIN, "GatherBlockQuantized", node.getName(), inputs, node.getOutputList(),
                    Nodes.attr("gather_axis", 0L), Nodes.attr("quantize_axis", 1L),
                    Nodes.attr("block_size", (long) format.blockSize()), Nodes.attr("bits", (long) format.bits())));
        }

        // ------------------------------------------------------------------ shared

        private void checkSelected(NodeProto node, boolean reportIt) {
            String reason = selector.exclusionReason(node);
            if (reason != null) {
                throw new Skip(reason, reportIt);
            }
        }

        private String scheme(String op) {
            return format.describe() + " weights, float activations (" + op + ", " + rounding.name() + ")";
        }

        private Constant floatMatrix(NodeProto node, int input, Scope scope, String role) {
            String name = node.getInputCount() > input ? node.getInput(input) : "";
            Optional<Constant> found = name.isEmpty() ? Optional.empty() : findConstant(scope, name);
            if (found.isEmpty()) {
                throw new Skip(role + " is not a constant", true);
            }
            if (isOverridable(found.get().scope(), name)) {
                throw new Skip(role + " '" + name + "' is also a graph input, so it can be replaced at run time", true);
            }
            TensorProto t = found.get().tensor();
            if (DataType.of(t) != DataType.FLOAT) {
                throw new Skip(role + " is " + DataType.of(t).displayName() + "; only float32 weights are quantized", true);
            }
            if (t.getDimsCount() != 2) {
                throw new Skip(role + " has rank " + t.getDimsCount() + "; only 2-D weights are quantized", true);
            }
            return found.get();
        }

        /** From IR 4 on, an initializer that is also a graph input is only a default the caller may replace. */
        private boolean isOverridable(Scope scope, String name) {
            return model.proto().getIrVersion() >= 4 && scope.graph().getInputList().stream().anyMatch(v -> v.getName().equals(name));
        }

        private Optional<Constant> findConstant(Scope scope, String name) {
            for (Scope s = scope; s != null; s = s.parent()) {
                for (TensorProto t : s.graph().getInitializerList()) {
                    if (t.getName().equals(name)) {
                        return Optional.of(new Constant(s, t));
                    }
                }
                for (NodeProto n : s.graph().getNodeList()) {
                    if (Weights.isConstantNode(n) && n.getOutputCount() == 1 && n.getOutput(0).equals(name)) {
                        Scope found = s;
                        return Weights.constantValue(n).map(t -> new Constant(found, t.toBuilder().setName(name).build()));
                    }
                }
                if (s.graph().getInputList().stream().anyMatch(v -> v.getName().equals(name))) {
                    return Optional.empty(); // a subgraph input shadows nothing but is not constant
                }
            }
            return Optional.empty();
        }

        /**
         * Quantizes a weight once (per layout variant) and stores codes, scales and zero points beside it.
         *
         * @param lineLength values per line (the axis blocks run along)
         * @param lineCount  lines
         */
        private Replacement replacement(Constant weight, String variant, int lineLength, int lineCount,
                                        Supplier<float[]> lines) {
            String name = weight.tensor().getName();
            String key = name + "|" + variant;
            Replacement existing = done.get(key);
            if (existing != null) {
                return existing;
            }
            int blocks = BlockQuantized.blocksPerLine(lineLength, format.blockSize());
            boolean gather = variant.equals("rows");
            long codeBytes = gather ? (long) lineCount * lineLength * format.bits() / 8
                    : (long) lineCount * blocks * format.blockSize() * format.bits() / 8;
            long newBytes = codeBytes + (long) lineCount * blocks * 4
                    + (format.symmetric() ? 0 : (long) lineCount * ((blocks * format.bits() + 7) / 8));
            long oldBytes = (long) lineCount * lineLength * 4;
            if (newBytes >= oldBytes) {
                throw new Skip("too small: the quantized form (" + newBytes + " bytes) would not be smaller than "
                        + oldBytes + " bytes of float", true);
            }
            BlockQuantized q = rounding.quantize(name, lines.get(), lineCount, lineLength, format);
            GraphProto.Builder home = weight.scope().graph();
            String base = name + "_" + (gather ? "rows_" : "") + "q" + format.bits() + variant.replaceAll("[^A-Za-z0-9]", "");
            String codes = names.fresh(base);
            long[] codeDims = gather ? new long[] {lineCount, (long) lineLength * format.bits() / 8}
                    : new long[] {lineCount, blocks, (long) format.blockSize() * format.bits() / 8};
            home.addInitializer(Tensors.raw(codes, DataType.UINT8, codeDims, ByteBuffer.wrap(q.packedCodes(!gather))));
            String scales = names.fresh(base + "_scales");
            home.addInitializer(Tensors.ofFloats(scales, new long[] {lineCount, blocks}, q.scales()));
            String zeroPoints = null;
            if (!format.symmetric()) {
                zeroPoints = names.fresh(base + "_zero_points");
                home.addInitializer(Tensors.raw(zeroPoints, DataType.UINT8, new long[] {lineCount, (blocks * format.bits() + 7) / 8},
                        ByteBuffer.wrap(q.packedZeroPoints())));
            }
            Replacement r = new Replacement(codes, scales, zeroPoints, q);
            done.put(key, r);
            replaced.put(name, weight.scope());
            floatBytes += oldBytes;
            quantizedBytes += newBytes;
            return r;
        }

        /** Drops the float weights no node reads any more. */
        private void removeUnused() {
            Set<String> used = new HashSet<>();
            Graphs.forEachGraph(model.graph().build(), (path, g) -> {
                g.getNodeList().forEach(n -> used.addAll(n.getInputList()));
                g.getOutputList().forEach(o -> used.add(o.getName()));
            });
            for (Map.Entry<String, Scope> e : replaced.entrySet()) {
                String name = e.getKey();
                if (used.contains(name)) {
                    continue;
                }
                GraphProto.Builder graph = e.getValue().graph();
                for (int i = graph.getInitializerCount() - 1; i >= 0; i--) {
                    if (graph.getInitializer(i).getName().equals(name)) {
                        graph.removeInitializer(i);
                    }
                }
                for (int i = graph.getInputCount() - 1; i >= 0; i--) {
                    if (graph.getInput(i).getName().equals(name)) {
                        graph.removeInput(i); // IR 3 lists every initializer as an input
                    }
                }
                for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
                    NodeProto n = graph.getNode(i);
                    if (Weights.isConstantNode(n) && n.getOutputList().equals(List.of(name))) {
                        graph.removeNode(i);
                    }
                }
            }
        }
    }

    /** A node left as it is; {@code report} says whether it deserves a line in the report. */
    private static final class Skip extends RuntimeException {
        final boolean report;

        Skip(String reason, boolean report) {
            super(reason, null, false, false);
            this.report = report;
        }
    }
}
