package io.modelpress.train.onnx;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.prune.sparse.SparsityRecord;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * An ONNX graph executed on DJL's PyTorch engine, with its float weights as trainable parameters. There is no ONNX
 * training runtime for Java, so the graph runs node by node (topological order, one {@link OperatorHandler} per
 * operator) on NDArrays, and autograd differentiates it; {@link #writeBack} puts the trained weights into the ONNX
 * model where they came from (initializers or Constant nodes), leaving everything else as it was.
 *
 * <p>What becomes a parameter: float initializers and Constant-node tensors of more than one element that only feed
 * weight positions (Conv/Gemm/MatMul operands, arithmetic, normalisation scale and bias, Gather tables, reshapes of
 * them), and integer weights read only by DequantizeLinear (trained as their float values, see
 * {@link GraphParameter}). Scalars, integer constants, running statistics, quantization scales and zero points stay
 * constants. BatchNormalization's running statistics are model state, updated in training mode and written back.
 * Pruning masks recorded in the model ({@link SparsityRecord}) are attached to their parameters.
 *
 * <p>Each forward pass makes its arrays in the caller's manager; intermediates are freed as soon as the last node
 * reading them has run. Only the main graph is supported (no If/Loop/Scan). Not thread-safe.
 */
public final class OnnxGraphModule implements AutoCloseable {
    /**
     * @param trainable decides, by name, which weights that could train do (the others stay constant)
     * @param operators the operator handlers
     * @param device    where parameters live
     */
    public record Options(Predicate<String> trainable, OperatorRegistry operators, Device device) {
        public Options {
            Objects.requireNonNull(trainable);
            Objects.requireNonNull(operators);
            Objects.requireNonNull(device);
        }

        public static Options defaults() {
            return new Options(name -> true, OperatorRegistry.standard(), Device.cpu());
        }

        public Options withTrainable(Predicate<String> newTrainable) {
            return new Options(newTrainable, operators, device);
        }

        public Options withOperators(OperatorRegistry newOperators) {
            return new Options(trainable, newOperators, device);
        }

        public Options withDevice(Device newDevice) {
            return new Options(trainable, operators, newDevice);
        }
    }

    /** Input positions that carry weights, per operator; a float constant elsewhere (exponents, bounds) stays constant. */
    private static final Map<String, Set<Integer>> WEIGHT_INPUTS = Map.ofEntries(
            Map.entry("Conv", Set.of(1, 2)), Map.entry("ConvTranspose", Set.of(1, 2)), Map.entry("Gemm", Set.of(0, 1, 2)),
            Map.entry("MatMul", Set.of(0, 1)), Map.entry("Add", Set.of(0, 1)), Map.entry("Sub", Set.of(0, 1)),
            Map.entry("Mul", Set.of(0, 1)), Map.entry("Div", Set.of(0, 1)), Map.entry("BatchNormalization", Set.of(1, 2)),
            Map.entry("LayerNormalization", Set.of(1, 2)), Map.entry("InstanceNormalization", Set.of(1, 2)),
            Map.entry("PRelu", Set.of(1)), Map.entry("Gather", Set.of(0)), Map.entry("Reshape", Set.of(0)),
            Map.entry("Transpose", Set.of(0)), Map.entry("Unsqueeze", Set.of(0)), Map.entry("Squeeze", Set.of(0)),
            Map.entry("Flatten", Set.of(0)), Map.entry("Identity", Set.of(0)), Map.entry("Expand", Set.of(0)),
            Map.entry("Split", Set.of(0)));
    /** Concat takes weights at any position (class tokens, merged projections). */
    private static final String ANY_POSITION = "Concat";
    private static final Set<String> SUBGRAPH_OPERATORS = Set.of("If", "Loop", "Scan");

    private final NDManager manager;
    private final long opset;
    private final List<NodeProto> nodes;
    private final List<OperatorHandler> handlers;
    private final Map<String, Integer> producers = new HashMap<>();
    private final Map<String, ValueShape> inputs = new LinkedHashMap<>();
    private final List<String> outputs = new ArrayList<>();
    private final Map<String, GraphParameter> parameters = new LinkedHashMap<>();
    private final Map<String, NDArray> statistics = new LinkedHashMap<>();
    private final Map<String, DataType> statisticTypes = new HashMap<>();
    private final Map<String, Value> constants = new HashMap<>();
    private final Map<String, String> unusable = new HashMap<>();
    private final Map<List<String>, Plan> plans = new HashMap<>();
    private boolean training;

    /** The nodes (positions in {@link #nodes}) a set of outputs needs, and the step after which each value is dead. */
    private record Plan(int[] nodes, Map<String, Integer> lastUse, List<String> inputs) {
    }

    private OnnxGraphModule(OnnxModel model, Options options) {
        this.manager = NDManager.newBaseManager(options.device(), "PyTorch");
        try {
            this.opset = model.opset("");
            GraphProto graph = model.graph().build();
            GraphIndex index = new GraphIndex(graph);
            List<NodeProto> ordered = new ArrayList<>();
            List<OperatorHandler> resolved = new ArrayList<>();
            Map<String, TensorProto> stored = new LinkedHashMap<>();
            graph.getInitializerList().forEach(t -> stored.put(t.getName(), t));
            for (int position : index.topologicalOrder()) {
                NodeProto node = index.node(position);
                if (Weights.isConstantNode(node) && node.getOutputCount() == 1 && Weights.constantValue(node).isPresent()
                        && isNumeric(Weights.constantValue(node).get())) {
                    stored.put(node.getOutput(0), Weights.constantValue(node).get());
                    continue;
                }
                resolved.add(handler(node, options.operators()));
                for (String out : node.getOutputList()) {
                    if (!out.isEmpty()) {
                        producers.put(out, ordered.size());
                    }
                }
                ordered.add(node);
            }
            this.nodes = List.copyOf(ordered);
            this.handlers = List.copyOf(resolved);
            model.inputs().forEach(v -> inputs.put(v.name(), v));
            graph.getOutputList().forEach(v -> outputs.add(v.getName()));
            loadWeights(model, stored, options.trainable());
            attachMasks(model);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Builds the module with the default options (every eligible weight trains, standard operators, CPU). */
    public static OnnxGraphModule load(OnnxModel model) {
        return load(model, Options.defaults());
    }

    /**
     * @throws ModelPressException UNSUPPORTED_OPERATOR naming the first node whose operator (or subgraph) the
     *                             trainer cannot run
     */
    public static OnnxGraphModule load(OnnxModel model, Options options) {
        return new OnnxGraphModule(model, options);
    }

    private static OperatorHandler handler(NodeProto node, OperatorRegistry operators) {
        boolean hasSubgraph = node.getAttributeList().stream()
                .anyMatch(a -> a.hasG() || a.getGraphsCount() > 0 || a.getType() == AttributeProto.AttributeType.GRAPH);
        if (hasSubgraph || (SUBGRAPH_OPERATORS.contains(node.getOpType()) && ModelValidator.isDefaultDomain(node.getDomain()))) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, NodeContext.location(node),
                    "holds a subgraph; the ONNX-on-DJL trainer runs graphs without control flow (If, Loop, Scan are not supported)");
        }
        return operators.find(node.getDomain(), node.getOpType()).orElseThrow(() -> {
            String op = ModelValidator.isDefaultDomain(node.getDomain()) ? node.getOpType() : node.getDomain() + ":" + node.getOpType();
            return new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, NodeContext.location(node), "operator '" + op
                    + "' is not supported by the ONNX-on-DJL trainer; it runs " + String.join(", ", operators.supported()));
        });
    }

    private static boolean isNumeric(TensorProto tensor) {
        return tensor.getDataType() != DataType.STRING.onnxId();
    }

    // ------------------------------------------------------------------ weights

    private void loadWeights(OnnxModel model, Map<String, TensorProto> stored, Predicate<String> trainable) {
        Map<String, List<NodeProto>> readers = new HashMap<>();
        Map<String, Set<String>> roles = new HashMap<>();
        for (NodeProto node : nodes) {
            for (int i = 0; i < node.getInputCount(); i++) {
                String in = node.getInput(i);
                if (stored.containsKey(in)) {
                    readers.computeIfAbsent(in, k -> new ArrayList<>()).add(node);
                    roles.computeIfAbsent(in, k -> new HashSet<>()).add(node.getOpType() + ":" + i);
                }
            }
        }
        for (var entry : stored.entrySet()) {
            String name = entry.getKey();
            TensorProto tensor = entry.getValue();
            DataType type = DataType.of(tensor);
            Set<String> uses = roles.getOrDefault(name, Set.of());
            if (uses.isEmpty()) {
                if (outputs.contains(name)) {
                    Value value = constant(model, tensor);
                    if (value != null) {
                        constants.put(name, value);
                    }
                }
                continue;
            }
            if (uses.stream().anyMatch(u -> u.equals("BatchNormalization:3") || u.equals("BatchNormalization:4"))
                    && type.isFloatingPoint()) {
                statistics.put(name, OnnxTensors.toArray(manager, tensor, model.externalData())
                        .toType(ai.djl.ndarray.types.DataType.FLOAT32, false));
                statisticTypes.put(name, type);
            } else if (type.isFloatingPoint() && Tensors.elementCount(tensor) > 1 && uses.stream().allMatch(OnnxGraphModule::weightUse)
                    && trainable.test(name)) {
                NDArray values = OnnxTensors.toArray(manager, tensor, model.externalData());
                NDArray master = values.toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                if (master != values) {
                    values.close();
                }
                parameters.put(name, new GraphParameter(name, master, type, null));
            } else if (QuantOps.levels(type) != null && trainable.test(name) && quantizedWeight(model, name, tensor, readers.get(name), stored)) {
                continue;
            } else {
                Value value = constant(model, tensor);
                if (value != null) {
                    constants.put(name, value);
                }
            }
        }
    }

    private static boolean weightUse(String use) {
        int colon = use.indexOf(':');
        String op = use.substring(0, colon);
        return op.equals(ANY_POSITION) || WEIGHT_INPUTS.getOrDefault(op, Set.of()).contains(Integer.parseInt(use.substring(colon + 1)));
    }

    private Value constant(OnnxModel model, TensorProto tensor) {
        DataType type = DataType.of(tensor);
        if (HostTensor.isHostType(type) && Tensors.elementCount(tensor) <= HostTensor.MAX_ELEMENTS) {
            return Value.of(OnnxTensors.toHost(tensor, model.externalData()));
        }
        return switch (type) {
            case INT4, UINT4, UINT16, UINT32, UINT64 -> Value.of(manager.create(Tensors.toLongs(tensor, model.externalData()),
                    new Shape(Tensors.dims(tensor))), type);
            default -> {
                try {
                    yield Value.of(OnnxTensors.toArray(manager, tensor, model.externalData()), type);
                } catch (ModelPressException e) {
                    unusable.put(tensor.getName(), e.getMessage());
                    yield null;
                }
            }
        };
    }

    /**
     * An integer weight read only by DequantizeLinear nodes with one constant scale, zero point and axis becomes a
     * parameter holding its dequantized values.
     */
    private boolean quantizedWeight(OnnxModel model, String name, TensorProto tensor, List<NodeProto> readers,
                                    Map<String, TensorProto> stored) {
        NodeProto first = readers.get(0);
        for (NodeProto reader : readers) {
            boolean sameDequantize = reader.getOpType().equals("DequantizeLinear") && ModelValidator.isDefaultDomain(reader.getDomain())
                    && reader.getInput(0).equals(name) && Nodes.intAttribute(reader, "block_size", 0) == 0
                    && reader.getInputList().equals(first.getInputList())
                    && Nodes.intAttribute(reader, "axis", 1) == Nodes.intAttribute(first, "axis", 1);
            if (!sameDequantize) {
                return false;
            }
        }
        TensorProto scaleTensor = stored.get(first.getInput(1));
        String zeroPointName = first.getInputCount() > 2 ? first.getInput(2) : "";
        TensorProto zeroPointTensor = zeroPointName.isEmpty() ? null : stored.get(zeroPointName);
        if (scaleTensor == null || !DataType.of(scaleTensor).isFloatingPoint() || (!zeroPointName.isEmpty() && zeroPointTensor == null)) {
            return false;
        }
        long[] dims = Tensors.dims(tensor);
        long axisAttribute = Nodes.intAttribute(first, "axis", 1);
        int axis = (int) (axisAttribute < 0 ? axisAttribute + dims.length : axisAttribute);
        if (Tensors.dims(scaleTensor).length == 1 && (axis < 0 || axis >= dims.length)) {
            return false;
        }
        float[] levels = Tensors.toFloats(tensor, model.externalData());
        NDArray scale = manager.create(Tensors.toFloats(scaleTensor, model.externalData()), new Shape(Tensors.dims(scaleTensor)));
        NDArray zeroPoint = zeroPointTensor == null ? null
                : manager.create(Tensors.toFloats(zeroPointTensor, model.externalData()), new Shape(Tensors.dims(zeroPointTensor)));
        NDArray values = manager.create(levels, new Shape(dims));
        Shape perAxis = new Shape(perAxisShape(dims, scale.getShape(), axis));
        NDArray master = Scopes.compute(manager, Arrays.asList(values, scale, zeroPoint), s -> {
            NDArray centred = zeroPoint == null ? values : values.sub(zeroPoint.reshape(perAxis));
            return centred.mul(scale.reshape(perAxis));
        });
        values.close();
        parameters.put(name, new GraphParameter(name, master, DataType.of(tensor),
                new GraphParameter.Quantization(scale, zeroPoint, Math.max(axis, 0), QuantOps.levels(DataType.of(tensor)))));
        return true;
    }

    private static long[] perAxisShape(long[] dims, Shape parameterShape, int axis) {
        if (parameterShape.dimension() == 0) {
            return new long[0];
        }
        long[] shape = new long[dims.length];
        Arrays.fill(shape, 1);
        shape[axis] = parameterShape.get(0);
        return shape;
    }

    /** Masks from the model's sparsity record: pruned (zero) elements of a listed parameter stay zero in training. */
    private void attachMasks(OnnxModel model) {
        for (SparsityRecord.Entry entry : SparsityRecord.read(model)) {
            GraphParameter parameter = parameters.get(entry.name());
            if (parameter == null || !Arrays.equals(parameter.shape().getShape(), entry.shape().stream().mapToLong(Long::longValue).toArray())) {
                continue;
            }
            NDArray mask = Scopes.compute(manager, List.of(parameter.array()),
                    s -> parameter.array().stopGradient().neq(0).toType(ai.djl.ndarray.types.DataType.FLOAT32, false));
            parameter.setMask(mask);
        }
    }

    // ------------------------------------------------------------------ running

    /**
     * Runs the graph in the module's mode ({@link #setTraining}) and returns the named values - graph outputs or any
     * intermediate value (hidden states) - as arrays in {@code scope}. Gradients are recorded when the caller records
     * them (inside a {@link TrainingStep}).
     *
     * @param inputs the graph inputs these outputs need, by name, of the declared element types
     */
    public Map<String, NDArray> forward(NDManager scope, Map<String, NDArray> inputs, Collection<String> outputs) {
        return run(scope, inputs, List.copyOf(outputs), training);
    }

    /** Runs the graph for inference (running statistics, no dropout) without recording gradients, whatever the mode. */
    public Map<String, NDArray> predict(NDManager scope, Map<String, NDArray> inputs, Collection<String> outputs) {
        return GradMode.disabled(() -> run(scope, inputs, List.copyOf(outputs), false));
    }

    /** {@link #predict} of the graph's declared outputs. */
    public Map<String, NDArray> predict(NDManager scope, Map<String, NDArray> inputs) {
        return predict(scope, inputs, outputs);
    }

    private Map<String, NDArray> run(NDManager scope, Map<String, NDArray> feeds, List<String> wanted, boolean trainingSemantics) {
        Plan plan = plans.computeIfAbsent(wanted, this::plan);
        Map<String, Value> env = new HashMap<>();
        Set<NDArray> owned = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<String> wantedNames = new HashSet<>(wanted);
        Map<String, NDArray> result = new LinkedHashMap<>();
        try {
            for (String name : feeds.keySet()) {
                if (!inputs.containsKey(name)) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, "input '" + name + "'",
                            "the model has no such input; its inputs are " + inputs.keySet());
                }
            }
            for (String name : plan.inputs()) {
                env.put(name, feed(name, feeds.get(name)));
            }
            for (int step = 0; step < plan.nodes().length; step++) {
                int position = plan.nodes()[step];
                NodeProto node = nodes.get(position);
                List<Value> args = new ArrayList<>(node.getInputCount());
                for (String in : node.getInputList()) {
                    args.add(in.isEmpty() ? null : resolve(in, env, scope, owned));
                }
                List<Value> produced = execute(node, handlers.get(position), args, scope, trainingSemantics);
                for (int o = 0; o < node.getOutputCount(); o++) {
                    String name = node.getOutput(o);
                    Value value = o < produced.size() ? produced.get(o) : null;
                    boolean needed = !name.isEmpty() && (plan.lastUse().containsKey(name) || wantedNames.contains(name));
                    if (value != null && value.array() != null) {
                        owned.add(value.array());
                    }
                    if (needed && value == null) {
                        throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, NodeContext.location(node),
                                "output " + o + " ('" + name + "') is not computed by the trainer");
                    }
                    if (needed) {
                        env.put(name, value);
                    } else if (value != null) {
                        release(value, owned);
                    }
                }
                for (int o = node.getOutputCount(); o < produced.size(); o++) {
                    release(produced.get(o), owned);
                }
                for (String in : node.getInputList()) {
                    Integer last = plan.lastUse().get(in);
                    if (last != null && last == step && !wantedNames.contains(in)) {
                        Value dead = env.get(in);
                        if (dead != null && dead.array() != null && owned.contains(dead.array())) {
                            release(dead, owned);
                            env.remove(in);
                        }
                    }
                }
            }
            for (String name : wanted) {
                Value value = env.containsKey(name) ? env.get(name) : resolve(name, env, scope, owned);
                result.put(name, export(value, scope, owned));
            }
            return result;
        } finally {
            // export() took the returned arrays out of owned; the rest (after a failure: everything) is freed now
            owned.forEach(NDArray::close);
        }
    }

    private static void release(Value value, Set<NDArray> owned) {
        if (value != null && value.array() != null && owned.remove(value.array())) {
            value.array().close();
        }
    }

    private Plan plan(List<String> wanted) {
        boolean[] needed = new boolean[nodes.size()];
        List<String> requiredInputs = new ArrayList<>();
        Deque<String> todo = new ArrayDeque<>(wanted);
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            String name = todo.pop();
            if (!seen.add(name)) {
                continue;
            }
            if (inputs.containsKey(name)) {
                requiredInputs.add(name);
                continue;
            }
            if (isStored(name)) {
                continue;
            }
            Integer producer = producers.get(name);
            if (producer == null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "value '" + name + "'",
                        "is not a value of the graph (no node computes it and it is no input or weight)");
            }
            if (!needed[producer]) {
                needed[producer] = true;
                nodes.get(producer).getInputList().stream().filter(in -> !in.isEmpty()).forEach(todo::push);
            }
        }
        int[] order = java.util.stream.IntStream.range(0, nodes.size()).filter(i -> needed[i]).toArray();
        Map<String, Integer> lastUse = new HashMap<>();
        for (int step = 0; step < order.length; step++) {
            for (String in : nodes.get(order[step]).getInputList()) {
                lastUse.put(in, step);
            }
        }
        return new Plan(order, lastUse, List.copyOf(requiredInputs));
    }

    private boolean isStored(String name) {
        return parameters.containsKey(name) || statistics.containsKey(name) || constants.containsKey(name) || unusable.containsKey(name);
    }

    private Value feed(String name, NDArray array) {
        ValueShape declared = inputs.get(name);
        if (array == null) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "input '" + name + "'", "is required but was not given");
        }
        DataType type = OnnxTensors.onnxType(array.getDataType());
        DataType expected = declared.type();
        boolean sameType = expected == null || expected == type
                || (expected != DataType.STRING && expected != DataType.BFLOAT16 && !expected.isFloatingPoint()
                && OnnxTensors.djlType(expected) == array.getDataType());
        if (!sameType) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "input '" + name + "'", "is " + type.displayName()
                    + " but the model declares " + expected.displayName());
        }
        long[] shape = array.getShape().getShape();
        if (declared.rankKnown()) {
            boolean fits = declared.dims().size() == shape.length;
            for (int i = 0; fits && i < shape.length; i++) {
                fits = !declared.dims().get(i).isFixed() || declared.dims().get(i).value() == shape[i];
            }
            if (!fits) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "input '" + name + "'", "has shape "
                        + Arrays.toString(shape) + " but the model declares " + declared.dims());
            }
        }
        return Value.of(array, expected == null ? type : expected);
    }

    /** A value by name: computed in this pass, or a weight, statistic or constant of the model. */
    private Value resolve(String name, Map<String, Value> env, NDManager scope, Set<NDArray> owned) {
        Value value = env.get(name);
        if (value != null) {
            return value;
        }
        GraphParameter parameter = parameters.get(name);
        if (parameter != null) {
            value = parameter.read(scope);
            if (value.array() != parameter.array()) {
                owned.add(value.array());
            }
            env.put(name, value);
            return value;
        }
        NDArray statistic = statistics.get(name);
        if (statistic != null) {
            return Value.of(statistic, statisticTypes.get(name));
        }
        value = constants.get(name);
        if (value != null) {
            return value;
        }
        if (unusable.containsKey(name)) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "tensor '" + name + "'", unusable.get(name));
        }
        throw new ModelPressException(ErrorCode.INVALID_GRAPH, "value '" + name + "'", "is read before any node computes it");
    }

    /**
     * Runs one node. Its inputs are borrowed into a node scope, so the handler's temporaries - even those made from
     * weights - die with the scope; its results move to {@code scope}.
     */
    private List<Value> execute(NodeProto node, OperatorHandler handler, List<Value> args, NDManager scope, boolean trainingSemantics) {
        try (NDManager nodeScope = scope.newSubManager()) {
            Set<NDArray> borrowed = Scopes.borrow(nodeScope, args.stream().filter(Objects::nonNull).map(Value::array).toList());
            NodeContext context = new NodeContext(node, opset, args, nodeScope, trainingSemantics, statistics::get);
            List<Value> produced = handler.apply(context);
            List<Value> kept = new ArrayList<>(produced.size());
            Set<NDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Value value : produced) {
                if (value != null && value.array() != null) {
                    NDArray array = value.array();
                    if (borrowed.contains(array) || !seen.add(array)) {
                        // a result that is one of the inputs (Identity, Dropout at inference) gets its own handle
                        array = array.reshape(array.getShape());
                        value = value.withArray(array);
                    }
                    array.attach(scope);
                }
                kept.add(value);
            }
            return kept;
        } catch (ModelPressException e) {
            throw e.location() == null ? e.at(NodeContext.location(node)) : e;
        } catch (RuntimeException e) {
            String message = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.getClass().getSimpleName());
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, NodeContext.location(node), "failed on the DJL engine: " + message, e);
        }
    }

    /** A value as an array the caller owns: host values made arrays, carried integer levels cast, weights copied. */
    private NDArray export(Value value, NDManager scope, Set<NDArray> owned) {
        if (value.isHost()) {
            return OnnxTensors.toArray(scope, value.host());
        }
        NDArray array = value.array();
        if (value.isCarriedInteger()) {
            return Scopes.compute(scope, List.of(array), s -> array.toType(OnnxTensors.djlType(value.type()), false));
        }
        if (!owned.contains(array)) {
            // a weight or input asked for by name: a copy (DJL's duplicate() drops the gradient, mul(1) keeps it)
            return Scopes.compute(scope, List.of(array), s -> array.hasGradient() ? array.mul(1) : array.duplicate());
        }
        owned.remove(array);
        return array;
    }

    // ------------------------------------------------------------------ state

    /** True in training mode: dropout active, BatchNormalization on batch statistics (updating the running ones). */
    public boolean isTraining() {
        return training;
    }

    public void setTraining(boolean training) {
        this.training = training;
    }

    /** The trainable weights, in the order the model stores them. */
    public List<GraphParameter> parameters() {
        return List.copyOf(parameters.values());
    }

    /** BatchNormalization running statistics held as model state, by name. */
    public Map<String, NDArray> runningStatistics() {
        return Collections.unmodifiableMap(statistics);
    }

    /** The graph inputs (initializers excluded) with their declared types and shapes. */
    public List<ValueShape> inputs() {
        return List.copyOf(inputs.values());
    }

    public List<String> outputNames() {
        return List.copyOf(outputs);
    }

    NDManager manager() {
        return manager;
    }

    /**
     * Writes the current weights and running statistics into {@code model} in place, each where it is stored
     * (initializer or Constant node), in its stored type, under its name; nothing else in the model changes.
     *
     * @throws ModelPressException BAD_ARGUMENT when the model lacks one of the weights or holds it in another shape
     *                             (write back into the model this module was loaded from, or a copy of it)
     */
    public void writeBack(OnnxModel model) {
        GradMode.disabled(() -> {
            for (GraphParameter parameter : parameters.values()) {
                replace(model, parameter.toTensor(manager));
            }
            for (var entry : statistics.entrySet()) {
                replace(model, OnnxTensors.toTensor(entry.getKey(), entry.getValue(), statisticTypes.get(entry.getKey())));
            }
        });
    }

    private static void replace(OnnxModel model, TensorProto tensor) {
        TensorProto existing = Weights.find(model, tensor.getName()).orElseThrow(() -> new ModelPressException(ErrorCode.BAD_ARGUMENT,
                "weight '" + tensor.getName() + "'", "is not in the model written back into; write back into the model the trainer was loaded from"));
        if (!Arrays.equals(Tensors.dims(existing), Tensors.dims(tensor))) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "weight '" + tensor.getName() + "'", "has shape "
                    + Arrays.toString(Tensors.dims(existing)) + " in the model written back into, but "
                    + Arrays.toString(Tensors.dims(tensor)) + " in the trainer");
        }
        Weights.replace(model, tensor.getName(), tensor);
    }

    @Override
    public void close() {
        manager.close();
    }
}
