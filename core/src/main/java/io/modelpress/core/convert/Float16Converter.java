package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.transform.ValueTypes;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Converts a model's float32 weights and computation to float16. Every float32 value of the main graph gets the
 * type its producer gives it - float16 out of converted nodes, float32 out of nodes that stay float32 - and a Cast is
 * inserted wherever a consumer needs the other type; stored constants are rewritten instead of cast. With
 * {@code keep_io_types} (the default) the model's inputs and outputs stay float32, so callers see no difference.
 *
 * <p>Nodes stay float32 when the {@link Float16Policy} says so, when they belong to another domain, when the recipe
 * excludes them, when they hold subgraphs (If/Loop/Scan bodies are left float32 as a whole and read float32
 * values, so their inside needs no type information), and when the {@link ConstantRules} find that float16 cannot
 * carry a constant they read or a value they compute. Stored non-zero values too small for float16 become its
 * smallest step rather than zero. {@link AutoMixedPrecision} adds the nodes that data shows must stay float32.
 */
public final class Float16Converter {
    private Float16Converter() {
    }

    public record Options(boolean keepIoTypes, NodeSelector selector) {
        public static final Options DEFAULT = new Options(true, NodeSelector.ALL);
    }

    /** A node kept in float32, and why. */
    record Keep(ConversionReport.Rule rule, String reason) {
    }

    /**
     * What decides the float32 nodes beyond the operator policy and the recipe.
     *
     * @param keep        nodes of the main graph (by position) found on data to need float32
     * @param staticRules apply the {@link ConstantRules}; without them every node the policy allows turns float16 and
     *                    stored values are clamped and rounded as they come (the naive conversion, for comparison)
     */
    record Plan(Map<Integer, Keep> keep, boolean staticRules) {
        static final Plan STATIC = new Plan(Map.of(), true);
        static final Plan NAIVE = new Plan(Map.of(), false);
    }

    /**
     * A conversion's report plus what a check needs to know of it.
     *
     * @param converted positions of the main graph's nodes that now compute in float16 (those touching float values)
     */
    record Conversion(ConversionReport report, Set<Integer> converted) {
    }

    /** The options a recipe's {@code convert} stage gives. */
    public static Options options(StageSpec spec) {
        String to = spec.has("to") ? spec.string("to") : "fp16";
        if (!to.equals("fp16")) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, "stages[" + spec.index() + "].convert.to",
                    "'" + to + "' is not supported; use fp16");
        }
        boolean keepIo = !spec.has("keep_io_types") || spec.bool("keep_io_types");
        return new Options(keepIo, spec.selector());
    }

    /** Converts in place with the static rules only (no data); {@link AutoMixedPrecision} adds the check on data. */
    public static ConversionReport convert(OnnxModel model, Options options) {
        return convert(model, options, ValueTypes.infer(model), Plan.STATIC).report();
    }

    /** @param types the value types of the model as given (they do not change between conversions of copies) */
    static Conversion convert(OnnxModel model, Options options, Map<String, ValueTypes.TensorType> types, Plan plan) {
        return new Pass(model, options, types, plan).run();
    }

    /** The two float types a value can have here. */
    private enum Precision {
        FP32(DataType.FLOAT), FP16(DataType.FLOAT16);

        final DataType type;

        Precision(DataType type) {
            this.type = type;
        }
    }

    /** One float32 value of the original graph and what it becomes. */
    private static final class Value {
        final String name;
        /** Type its producer gives it; null for a stored constant, which takes whatever type is wanted. */
        Precision produced;
        /** Type the original name carries after conversion. */
        Precision home;
        final Set<Precision> wanted = EnumSet.noneOf(Precision.class);
        boolean graphOutput;
        /** Name under which each type is available. */
        final Map<Precision, String> names = new EnumMap<>(Precision.class);

        Value(String name) {
            this.name = name;
        }
    }

    private static final class Pass {
        private final OnnxModel model;
        private final Options options;
        private final Plan plan;
        private final GraphProto.Builder graph;
        private final long opset;
        private final ConversionReport report = new ConversionReport("fp16");
        private final UniqueNames names;
        private final Map<String, ValueTypes.TensorType> types;
        private final Map<String, Value> values = new LinkedHashMap<>();
        private final Map<String, TensorProto> constants = new HashMap<>();
        private final Set<String> graphInputs = new HashSet<>();
        private final Set<String> graphOutputs = new HashSet<>();
        private boolean[] converted;
        /** Converted nodes that read or write float values: what the report counts. */
        private final Set<Integer> float16Nodes = new HashSet<>();

        Pass(OnnxModel model, Options options, Map<String, ValueTypes.TensorType> types, Plan plan) {
            this.model = model;
            this.options = options;
            this.plan = plan;
            this.graph = model.graph();
            this.opset = model.opset("");
            this.names = UniqueNames.of(graph);
            this.types = types;
        }

        Conversion run() {
            List<NodeProto> nodes = List.copyOf(graph.getNodeList());
            graph.getInitializerList().forEach(t -> constants.put(t.getName(), t));
            for (NodeProto node : nodes) {
                if (Weights.isConstantNode(node) && node.getOutputCount() == 1) {
                    Weights.constantValue(node).ifPresent(t -> constants.put(node.getOutput(0), t));
                }
            }
            // before IR 4 every initializer is also listed as an input; from IR 4 on such an input can be fed instead
            boolean initializersAreInputs = model.proto().getIrVersion() < 4;
            graph.getInputList().stream().map(ValueInfoProto::getName)
                    .filter(n -> !(initializersAreInputs && constants.containsKey(n))).forEach(graphInputs::add);
            graph.getOutputList().forEach(v -> graphOutputs.add(v.getName()));
            classify(nodes);
            collectUses(nodes);
            assignNames();
            rewrite(nodes);
            return new Conversion(report, Set.copyOf(float16Nodes));
        }

        private boolean isFloat32(String value) {
            ValueTypes.TensorType t = types.get(value);
            return !value.isEmpty() && t != null && t.elementType() == DataType.FLOAT;
        }

        private Value value(String name) {
            return values.computeIfAbsent(name, Value::new);
        }

        // ------------------------------------------------------------------ which nodes convert

        private void classify(List<NodeProto> nodes) {
            converted = new boolean[nodes.size()];
            Map<Integer, Keep> rules = plan.staticRules()
                    ? ConstantRules.apply(model, nodes, constants, types, this::isFloat32) : Map.of();
            for (int i = 0; i < nodes.size(); i++) {
                NodeProto node = nodes.get(i);
                if (Weights.isConstantNode(node)) {
                    continue; // a stored value, handled with the initializers
                }
                Keep reason = keepReason(node);
                if (reason == null) {
                    reason = rules.containsKey(i) ? rules.get(i) : plan.keep().get(i);
                }
                converted[i] = reason == null;
                boolean touchesFloat = node.getInputList().stream().anyMatch(this::isFloat32)
                        || node.getOutputList().stream().anyMatch(this::isFloat32)
                        || GraphIndex.implicitInputs(node).stream().anyMatch(this::isFloat32);
                if (!touchesFloat) {
                    continue;
                }
                if (converted[i]) {
                    report.converted();
                    float16Nodes.add(i);
                } else {
                    report.kept(Graphs.nodeLabel(node), node.getOpType(), reason.rule(), reason.reason());
                }
            }
        }

        /** Why the operator itself or the recipe keeps a node float32, or null. */
        private Keep keepReason(NodeProto node) {
            if (!ModelValidator.isDefaultDomain(node.getDomain())) {
                return operator("operator of domain '" + node.getDomain() + "', whose float16 support is not known here");
            }
            for (AttributeProto a : node.getAttributeList()) {
                if (a.hasG() || a.getGraphsCount() > 0) {
                    return operator("holds subgraphs, which stay float32");
                }
            }
            if (node.getOpType().equals("CastLike") && node.getInputCount() > 1 && types.containsKey(node.getInput(1))
                    && types.get(node.getInput(1)).elementType() == DataType.STRING) {
                return operator("printing float16 values would change the text");
            }
            String policy = Float16Policy.keepReason(node);
            if (policy != null) {
                return operator(policy);
            }
            String excluded = options.selector().exclusionReason(node);
            return excluded == null ? null : new Keep(ConversionReport.Rule.RECIPE, excluded);
        }

        private static Keep operator(String reason) {
            return new Keep(ConversionReport.Rule.OPERATOR, reason);
        }

        // ------------------------------------------------------------------ who needs which type

        private void collectUses(List<NodeProto> nodes) {
            for (String input : graphInputs) {
                if (isFloat32(input)) {
                    value(input).produced = options.keepIoTypes() ? Precision.FP32 : Precision.FP16;
                }
            }
            for (String output : graphOutputs) {
                if (isFloat32(output)) {
                    Value v = value(output);
                    v.graphOutput = true;
                    v.wanted.add(options.keepIoTypes() ? Precision.FP32 : Precision.FP16);
                }
            }
            for (int i = 0; i < nodes.size(); i++) {
                NodeProto node = nodes.get(i);
                if (Weights.isConstantNode(node)) {
                    continue;
                }
                Set<Integer> keepIn = Float16Policy.float32Inputs(node.getOpType(), opset);
                for (int j = 0; j < node.getInputCount(); j++) {
                    if (isFloat32(node.getInput(j))) {
                        value(node.getInput(j)).wanted.add(converted[i] && !keepIn.contains(j) ? Precision.FP16 : Precision.FP32);
                    }
                }
                for (String implicit : GraphIndex.implicitInputs(node)) {
                    if (isFloat32(implicit)) {
                        value(implicit).wanted.add(Precision.FP32);
                    }
                }
                Set<Integer> keepOut = Float16Policy.float32Outputs(node.getOpType());
                for (int j = 0; j < node.getOutputCount(); j++) {
                    if (isFloat32(node.getOutput(j))) {
                        value(node.getOutput(j)).produced = converted[i] && !keepOut.contains(j) ? Precision.FP16 : Precision.FP32;
                    }
                }
            }
        }

        /**
         * The original name keeps the producer's type (so nothing that reads it from a subgraph needs renaming), except
         * for a graph output, whose name must carry the output's declared type; a stored constant takes float16 when
         * nothing wants it in float32.
         */
        private void assignNames() {
            for (Value v : values.values()) {
                if (v.produced == null && !constants.containsKey(v.name)) {
                    v.produced = Precision.FP32; // defensive: a value whose producer we did not see stays as it is
                }
                boolean constant = v.produced == null;
                if (v.graphOutput) {
                    v.home = options.keepIoTypes() ? Precision.FP32 : Precision.FP16;
                } else if (constant) {
                    v.home = v.wanted.contains(Precision.FP32) || v.wanted.isEmpty() ? Precision.FP32 : Precision.FP16;
                } else {
                    v.home = v.produced;
                }
                if (constant) {
                    v.produced = v.home;
                }
                v.names.put(v.home, v.name);
                if (v.produced != v.home) {
                    v.names.put(v.produced, names.fresh(v.name + suffix(v.produced)));
                }
                for (Precision p : v.wanted) {
                    v.names.computeIfAbsent(p, k -> names.fresh(v.name + suffix(k)));
                }
            }
        }

        private static String suffix(Precision p) {
            return p == Precision.FP16 ? "_fp16" : "_fp32";
        }

        // ------------------------------------------------------------------ rewriting

        private void rewrite(List<NodeProto> nodes) {
            List<NodeProto> out = new ArrayList<>(nodes.size() + 16);
            Map<String, String> subgraphRenames = new HashMap<>();
            // values available from the start: graph inputs and stored constants
            for (Value v : values.values()) {
                if (graphInputs.contains(v.name)) {
                    addCasts(v, out);
                }
            }
            for (int i = 0, count = graph.getInitializerCount(); i < count; i++) {
                TensorProto t = graph.getInitializer(i);
                Value v = values.get(t.getName());
                if (v != null) {
                    graph.setInitializer(i, stored(t, v.home, v.name));
                    if (graphInputs.contains(v.name)) {
                        continue; // the default of an input: its other types come from Casts, like any input's
                    }
                    for (Precision p : v.names.keySet()) {
                        if (p != v.home) {
                            graph.addInitializer(stored(t, p, v.names.get(p)));
                        }
                    }
                }
            }
            for (int i = 0; i < nodes.size(); i++) {
                NodeProto node = nodes.get(i);
                if (Weights.isConstantNode(node)) {
                    out.addAll(constantNode(node));
                    continue;
                }
                out.add(rewriteNode(node, i, subgraphRenames));
                for (String output : node.getOutputList()) {
                    Value v = values.get(output);
                    if (v != null) {
                        addCasts(v, out);
                    }
                }
            }
            graph.clearNode().addAllNode(out);
            if (!subgraphRenames.isEmpty()) {
                for (NodeProto.Builder node : graph.getNodeBuilderList()) {
                    renameOuterReads(node, subgraphRenames);
                }
            }
            retype(graph.getInputList(), graph::setInput);
            retype(graph.getOutputList(), graph::setOutput);
            retype(graph.getValueInfoList(), graph::setValueInfo);
        }

        /** Casts from the produced name to every other name the value is wanted under. */
        private void addCasts(Value v, List<NodeProto> out) {
            String from = v.names.get(v.produced);
            for (Map.Entry<Precision, String> e : v.names.entrySet()) {
                if (e.getKey() != v.produced) {
                    out.add(Nodes.node("Cast", names.fresh(e.getValue() + "_cast"), List.of(from), List.of(e.getValue()),
                            Nodes.attr("to", (long) e.getKey().type.onnxId())));
                    report.cast();
                }
            }
        }

        private NodeProto rewriteNode(NodeProto node, int index, Map<String, String> subgraphRenames) {
            NodeProto.Builder b = node.toBuilder();
            Set<Integer> keepIn = Float16Policy.float32Inputs(node.getOpType(), opset);
            for (int j = 0; j < node.getInputCount(); j++) {
                Value v = values.get(node.getInput(j));
                if (v != null) {
                    b.setInput(j, v.names.get(converted[index] && !keepIn.contains(j) ? Precision.FP16 : Precision.FP32));
                }
            }
            for (int j = 0; j < node.getOutputCount(); j++) {
                Value v = values.get(node.getOutput(j));
                if (v != null) {
                    b.setOutput(j, v.names.get(v.produced));
                }
            }
            for (String implicit : GraphIndex.implicitInputs(node)) {
                Value v = values.get(implicit);
                if (v != null && !v.names.get(Precision.FP32).equals(implicit)) {
                    subgraphRenames.put(implicit, v.names.get(Precision.FP32));
                }
            }
            if (converted[index]) {
                for (int a = 0; a < b.getAttributeCount(); a++) {
                    AttributeProto attribute = b.getAttribute(a);
                    if (node.getOpType().equals("Cast") && attribute.getName().equals("to") && attribute.getI() == DataType.FLOAT.onnxId()) {
                        b.setAttribute(a, attribute.toBuilder().setI(DataType.FLOAT16.onnxId()));
                    } else if (node.getOpType().equals("ConstantOfShape") && attribute.getName().equals("value")
                            && DataType.of(attribute.getT()) == DataType.FLOAT) {
                        b.setAttribute(a, attribute.toBuilder().setT(stored(attribute.getT(), Precision.FP16, attribute.getT().getName())));
                    }
                }
            }
            return b.build();
        }

        /** A Constant node holding its value in the type its name carries, plus copies in the other type. */
        private List<NodeProto> constantNode(NodeProto node) {
            Value v = values.get(node.getOutput(0));
            if (v == null) {
                return List.of(node);
            }
            TensorProto value = constants.get(v.name);
            List<NodeProto> out = new ArrayList<>();
            for (Map.Entry<Precision, String> e : v.names.entrySet()) {
                String name = e.getValue();
                NodeProto.Builder b = node.toBuilder().clearAttribute().setOutput(0, name)
                        .addAttribute(Nodes.attr("value", stored(value, e.getKey(), name)));
                if (!name.equals(v.name)) {
                    b.setName(names.fresh(name + "_const"));
                }
                out.add(b.build());
            }
            return out;
        }

        /**
         * A float32 tensor as stored in the given type: values beyond float16's range saturate, and (with the static
         * rules) non-zero values below its smallest step become that step, so that an epsilon still guards a division.
         */
        private TensorProto stored(TensorProto t, Precision precision, String name) {
            if (precision == Precision.FP32) {
                return t.getName().equals(name) ? t : t.toBuilder().setName(name).build();
            }
            float[] values = model.floats(t);
            long clamped = 0;
            long raised = 0;
            ByteBuffer half = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : values) {
                if (Float.isFinite(f) && Math.abs(f) > ConstantRules.MAX_FLOAT16) {
                    clamped++;
                }
                short h = ConstantRules.rounded(f);
                if (plan.staticRules() && (h & 0x7fff) == 0 && f != 0) {
                    h = ConstantRules.stored(f);
                    raised++;
                }
                half.putShort(h);
            }
            report.tensor(values.length * 4L, values.length * 2L, clamped, raised);
            return Tensors.raw(name, DataType.FLOAT16, Tensors.dims(t), half.flip());
        }

        private void retype(List<ValueInfoProto> infos, BiConsumer<Integer, ValueInfoProto> set) {
            for (int i = 0; i < infos.size(); i++) {
                Value v = values.get(infos.get(i).getName());
                if (v != null && v.home == Precision.FP16 && infos.get(i).getType().hasTensorType()) {
                    ValueInfoProto.Builder b = infos.get(i).toBuilder();
                    b.getTypeBuilder().getTensorTypeBuilder().setElemType(DataType.FLOAT16.onnxId());
                    set.accept(i, b.build());
                }
            }
        }
    }

    /** Renames reads of outer values inside a node's subgraphs, at any depth, leaving names a subgraph defines. */
    private static void renameOuterReads(NodeProto.Builder node, Map<String, String> renames) {
        for (AttributeProto.Builder attribute : node.getAttributeBuilderList()) {
            if (attribute.hasG()) {
                renameIn(attribute.getGBuilder(), renames);
            }
            for (GraphProto.Builder g : attribute.getGraphsBuilderList()) {
                renameIn(g, renames);
            }
        }
    }

    private static void renameIn(GraphProto.Builder graph, Map<String, String> renames) {
        Set<String> local = new HashSet<>();
        graph.getInputList().forEach(v -> local.add(v.getName()));
        graph.getInitializerList().forEach(t -> local.add(t.getName()));
        graph.getNodeList().forEach(n -> local.addAll(n.getOutputList()));
        Map<String, String> visible = new HashMap<>(renames);
        visible.keySet().removeAll(local);
        if (visible.isEmpty()) {
            return;
        }
        for (NodeProto.Builder node : graph.getNodeBuilderList()) {
            for (int j = 0; j < node.getInputCount(); j++) {
                String renamed = visible.get(node.getInput(j));
                if (renamed != null) {
                    node.setInput(j, renamed);
                }
            }
            renameOuterReads(node, visible);
        }
        for (int i = 0; i < graph.getOutputCount(); i++) {
            String renamed = visible.get(graph.getOutput(i).getName());
            if (renamed != null) {
                graph.setOutput(i, graph.getOutput(i).toBuilder().setName(renamed)); // passes an outer value through
            }
        }
    }
}
