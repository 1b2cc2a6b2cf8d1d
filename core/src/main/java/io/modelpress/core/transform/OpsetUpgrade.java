package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.FunctionProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.OnnxModel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Raises the default-domain opset of a model, rewriting every node whose operator changed signature or meaning on the
 * way (attributes that became inputs, Softmax's axis semantics, Upsample to Resize, ...). The model is converted one
 * opset at a time, the main graph and every If/Loop/Scan body alike, so each step only has to know one version change;
 * what each step does per operator is in {@link OpsetConverters}. Other domains keep their own opsets.
 */
public final class OpsetUpgrade {
    public static final long MIN_OPSET = 7;
    public static final long MAX_OPSET = OperatorVersions.MAX_OPSET;

    private OpsetUpgrade() {
    }

    /**
     * What the upgrade did.
     *
     * @param rewrites how many nodes were rewritten, by "operator -> opset" (version changes that needed no rewrite
     *                 are not counted)
     */
    public record Result(long fromOpset, long toOpset, Map<String, Integer> rewrites) {
        public Result {
            rewrites = Collections.unmodifiableMap(new TreeMap<>(rewrites));
        }

        public int rewrittenNodes() {
            return rewrites.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    /**
     * Converts the model in place to {@code targetOpset} of the default domain. Nothing happens when it is already
     * there.
     *
     * @throws ModelPressException UNSUPPORTED_OPSET naming the node and operator that cannot be converted, or when
     *                             either opset is outside {@value #MIN_OPSET}..{@value #MAX_OPSET} or the target is
     *                             lower than the model's opset
     */
    public static Result upgrade(OnnxModel model, long targetOpset) {
        long from = model.opset("");
        if (targetOpset < MIN_OPSET || targetOpset > MAX_OPSET) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "target opset",
                    targetOpset + " is outside the supported range " + MIN_OPSET + " to " + MAX_OPSET);
        }
        if (from < MIN_OPSET) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "model",
                    "opset " + from + " of the default domain is below " + MIN_OPSET + ", the oldest this tool upgrades");
        }
        if (from > targetOpset) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "model",
                    "is at opset " + from + ", above the target " + targetOpset + "; downgrading is not supported");
        }
        if (from == targetOpset) {
            return new Result(from, targetOpset, Map.of());
        }
        checkFunctions(model);
        checkOperatorsExist(model.graph().build(), from);

        UpgradeContext context = new UpgradeContext(model.copy(), UniqueNames.of(model.graph()));
        Map<String, Integer> rewrites = new TreeMap<>();
        for (int opset = (int) from + 1; opset <= targetOpset; opset++) {
            context.startStep(opset);
            convert(model.graph(), "main", context, rewrites);
        }
        removeUnusedConstants(model.graph(), context.createdConstants());
        model.setOpset("", targetOpset);
        long ir = minimumIrVersion(targetOpset);
        if (model.proto().getIrVersion() < ir) {
            model.proto().setIrVersion(ir);
        }
        return new Result(from, targetOpset, rewrites);
    }

    private static void convert(GraphProto.Builder graph, String path, UpgradeContext context, Map<String, Integer> rewrites) {
        context.enter(graph, path);
        try {
            for (int i = 0; i < graph.getNodeCount(); i++) {
                NodeProto.Builder node = graph.getNodeBuilder(i);
                String label = Graphs.nodeLabel(node.build());
                for (AttributeProto.Builder attribute : node.getAttributeBuilderList()) {
                    String child = path + "/" + label + "." + attribute.getName();
                    if (attribute.hasG()) {
                        convert(attribute.getGBuilder(), child, context, rewrites);
                    }
                    for (int g = 0; g < attribute.getGraphsCount(); g++) {
                        convert(attribute.getGraphsBuilder(g), child + "[" + g + "]", context, rewrites);
                    }
                }
            }
            int opset = context.opset();
            List<NodeProto> converted = new ArrayList<>(graph.getNodeCount());
            for (NodeProto node : graph.getNodeList()) {
                String op = node.getOpType();
                if (!ModelValidator.isDefaultDomain(node.getDomain()) || !OperatorVersions.changesAt(op, opset)) {
                    converted.add(node);
                    continue;
                }
                NodeConverter converter = OpsetConverters.find(op, opset).orElseThrow(() -> context.unsupported(node,
                        op + " changed in opset " + opset + " and there is no converter for that change"));
                converted.addAll(converter.convert(node, context));
                if (converter != NodeConverter.COMPATIBLE) {
                    rewrites.merge(op + " -> " + opset, 1, Integer::sum);
                }
            }
            graph.clearNode().addAllNode(converted);
        } finally {
            context.leave();
        }
    }

    private static void removeUnusedConstants(GraphProto.Builder main, Set<String> created) {
        Set<String> used = new HashSet<>();
        Graphs.forEachGraph(main.build(), (path, g) -> {
            g.getNodeList().forEach(n -> used.addAll(n.getInputList()));
            g.getOutputList().forEach(o -> used.add(o.getName()));
        });
        removeConstants(main, created, used);
    }

    private static void removeConstants(GraphProto.Builder graph, Set<String> created, Set<String> used) {
        for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
            NodeProto node = graph.getNode(i);
            if (node.getOpType().equals("Constant") && created.contains(node.getOutput(0)) && !used.contains(node.getOutput(0))) {
                graph.removeNode(i);
                continue;
            }
            for (AttributeProto.Builder attribute : graph.getNodeBuilder(i).getAttributeBuilderList()) {
                if (attribute.hasG()) {
                    removeConstants(attribute.getGBuilder(), created, used);
                }
                for (GraphProto.Builder g : attribute.getGraphsBuilderList()) {
                    removeConstants(g, created, used);
                }
            }
        }
    }

    private static void checkOperatorsExist(GraphProto main, long opset) {
        Graphs.forEachGraph(main, (path, graph) -> {
            for (NodeProto node : graph.getNodeList()) {
                if (!ModelValidator.isDefaultDomain(node.getDomain())) {
                    continue;
                }
                String where = "node '" + Graphs.nodeLabel(node) + "' (" + node.getOpType() + ")" + (path.equals("main") ? "" : " in " + path);
                if (!OperatorVersions.isKnown(node.getOpType())) {
                    throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, where, "is not an operator of the standard "
                            + "ONNX opsets up to " + MAX_OPSET + " (experimental operators removed in opset 10 included)");
                }
                if (OperatorVersions.versionAt(node.getOpType(), opset) == 0) {
                    throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, where, node.getOpType()
                            + " does not exist in opset " + opset + ", which the model declares");
                }
            }
        });
    }

    private static void checkFunctions(OnnxModel model) {
        for (FunctionProto function : model.proto().getFunctionsList()) {
            for (OperatorSetIdProto opset : function.getOpsetImportList()) {
                if (ModelValidator.isDefaultDomain(opset.getDomain())) {
                    throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "function '" + function.getName() + "'",
                            "model-local functions that use the default domain are not upgraded");
                }
            }
        }
    }

    /** The IR version that introduced each opset (onnx/onnx docs/Versioning.md). */
    static long minimumIrVersion(long opset) {
        if (opset <= 8) {
            return 3;
        }
        if (opset <= 11) {
            return opset - 5; // 9 -> 4, 10 -> 5, 11 -> 6
        }
        if (opset <= 14) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        return opset <= 20 ? 9 : 10;
    }
}
