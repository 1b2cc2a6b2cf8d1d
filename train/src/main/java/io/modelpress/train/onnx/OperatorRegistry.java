package io.modelpress.train.onnx;

import io.modelpress.core.onnx.ModelValidator;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The operators the trainer can run: one {@link OperatorHandler} per operator type (default ONNX domain unless a
 * domain is given). {@link #standard()} holds the CNN and transformer-encoder set; more can be registered.
 */
public final class OperatorRegistry {
    private final Map<String, OperatorHandler> handlers = new HashMap<>();

    private OperatorRegistry() {
    }

    public static OperatorRegistry empty() {
        return new OperatorRegistry();
    }

    /** Elementwise, neural-network, normalization, shape, reduction and quantization operators. */
    public static OperatorRegistry standard() {
        OperatorRegistry registry = new OperatorRegistry();
        ElementwiseOps.register(registry);
        NeuralOps.register(registry);
        NormalizationOps.register(registry);
        ShapeOps.register(registry);
        ReduceOps.register(registry);
        QuantOps.register(registry);
        return registry;
    }

    /** Registers (or replaces) the handler of a default-domain operator. */
    public OperatorRegistry register(String opType, OperatorHandler handler) {
        return register("", opType, handler);
    }

    public OperatorRegistry register(String domain, String opType, OperatorHandler handler) {
        handlers.put(key(domain, opType), handler);
        return this;
    }

    public Optional<OperatorHandler> find(String domain, String opType) {
        return Optional.ofNullable(handlers.get(key(domain, opType)));
    }

    /** The registered operators, sorted; non-default domains as {@code domain:OpType}. */
    public Set<String> supported() {
        return Collections.unmodifiableSet(new TreeSet<>(handlers.keySet()));
    }

    private static String key(String domain, String opType) {
        return ModelValidator.isDefaultDomain(domain) ? opType : domain + ":" + opType;
    }
}
