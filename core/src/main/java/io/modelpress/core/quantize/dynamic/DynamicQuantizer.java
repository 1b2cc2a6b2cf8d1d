package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.graph.Passes;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.transform.AttentionMaskFold;
import io.modelpress.core.transform.ChannelRanges;
import io.modelpress.core.transform.ChannelScaling;
import io.modelpress.core.transform.ChannelShift;
import io.modelpress.core.transform.ExactRewrite;
import io.modelpress.core.transform.OpsetRequirement;
import io.modelpress.core.transform.OutlierChannels;
import io.modelpress.core.transform.ProductGroups;
import io.modelpress.core.transform.SequenceMajorLayout;
import io.modelpress.core.transform.SiblingMatMulFusion;
import io.modelpress.core.transform.SmoothQuant;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * Dynamic int8 quantization: weights are stored as 8-bit integers ahead of time, activations are quantized at run
 * time by DynamicQuantizeLinear, and ONNX Runtime runs the products in integer kernels. The mode is a declared list of
 * passes ({@link Run#passes}): exact float rewrites of the pass layer (core.transform), then the operator handlers
 * ({@link #HANDLERS}), then the layout rewrites. Only the main graph is edited; subgraphs (If/Loop/Scan bodies) stay as
 * they are.
 */
public final class DynamicQuantizer {
    /** One handler per operator type of the default domain. */
    static final Map<String, OperatorHandler> HANDLERS = Map.of(
            "MatMul", new MatMulHandler(),
            "Gemm", new GemmHandler(),
            "Gather", new GatherHandler(),
            "Conv", new ConvHandler());

    /**
     * DynamicQuantizeLinear arrived in opset 11 (MatMulInteger in 10; Equal on floats and negative Split axes, which the
     * attention rewrites emit, in 11); older models are upgraded first.
     */
    public static final long MINIMUM_OPSET = 11;

    private DynamicQuantizer() {
    }

    /** Quantizes in place as the recipe stage says. {@code data} may be {@link CalibrationData#NONE}. */
    public static QuantizationReport quantize(OnnxModel model, StageSpec spec, CalibrationData data) {
        return quantize(model, DynamicOptions.from(spec), data);
    }

    /**
     * Quantizes in place, running {@link Run#passes the mode's passes} in order. A model with nothing to quantize is
     * left untouched (the data unread) and the report says why.
     */
    public static QuantizationReport quantize(OnnxModel model, DynamicOptions options, CalibrationData data) {
        long start = System.nanoTime();
        QuantizationReport candidates = new QuantizationReport("dynamic");
        if (quantizable(model, options, candidates) == 0) {
            candidates.nothingToQuantize("MatMul or Gemm with a constant float weight and no Gather from a constant float table "
                    + "in its main graph (the operators dynamic mode quantizes)");
            return candidates;
        }
        QuantizationReport report = new QuantizationReport("dynamic");
        Passes.run(model, new Run(options, data, report).passes(), report);
        report.note("runtime", "standard ONNX operators only (DynamicQuantizeLinear, MatMulInteger, DequantizeLinear); "
                + "ONNX Runtime fuses them into its integer kernels");
        report.note("seconds", String.format(Locale.ROOT, "%.2f", (System.nanoTime() - start) / 1e9));
        return report;
    }

    /** One quantization: the dynamic mode's passes and the state they share. */
    private static final class Run {
        private final DynamicOptions options;
        private final CalibrationData data;
        private final QuantizationReport report;
        /** Nodes that stay float (outlier side paths, the most sensitive nodes), with the reason for the report. */
        private final Map<String, String> floatNodes = new HashMap<>();
        /** Data the exact rewrites are checked on: the calibration data, or made-up token inputs; decided when first needed. */
        private Optional<CalibrationData> check;
        /** Whether the calibrated steps run: data was given and some MatMul or Gemm activation is quantized at run time. */
        private boolean calibrated;

        Run(DynamicOptions options, CalibrationData data, QuantizationReport report) {
            this.options = options;
            this.data = data;
            this.report = report;
        }

        /**
         * The dynamic mode, in order. The float rewrites come first, each exact and kept only when the float model gives
         * the same outputs before and after: the attention masks fold into the Q.K products; with calibration data,
         * activation channels are centred for free ({@link ChannelShift}), extreme outlier channels of FFN activations
         * move to a float side path ({@link OutlierChannels}) and SmoothQuant migrates the remaining outliers into the
         * weights ({@link SmoothQuant}), all checked together; the {@code keep_float} nodes that lose most to
         * quantization are found by measurement ({@link Sensitivity}). Then the products are quantized, and the token
         * activations move to the sequence-major layout.
         */
        List<Pass<?>> passes() {
            boolean floatRewrites = options.smoothQuantAlpha().isPresent() || options.outlierChannels() > 0;
            return Passes.of(
                    new OpsetRequirement(MINIMUM_OPSET, "DynamicQuantizeLinear and MatMulInteger", "dynamic quantization"),
                    Passes.topologicalOrder(),
                    // measured: the fold pays with the sequence-major layout and lost with the batch-major one (docs/recipes.md)
                    options.sequenceMajor() ? checked(new AttentionMaskFold(), "left as they were", null) : null,
                    options.wantsCalibration() ? Passes.simple("calibration", this::decideCalibration) : null,
                    options.wantsCalibration() && floatRewrites ? Passes.simple("rewrites", this::floatRewrites) : null,
                    options.wantsCalibration() && options.keepFloat() > 0 ? Passes.simple("keep_float", this::keepMostSensitive) : null,
                    options.perChannel() && options.mergeSiblings()
                            ? new SiblingMatMulFusion(new SiblingMatMulFusion.Options(options.selector(), floatNodes.keySet())) : null,
                    Passes.simple("quantize", this::quantizeProducts),
                    options.sequenceMajor() ? checked(new SequenceMajorLayout(), "batch-major kept", "batch-major kept: without "
                            + "data the sequence-major model is checked on made-up token ids, masks and floats, and this model has "
                            + "other inputs") : null,
                    options.sequenceMajor() ? checked(new IntegerMaskColumns(), "float mask columns kept", null) : null);
        }

        /** The rewrite, kept only when the outputs on the check data are unchanged; without check data it is left out. */
        private Pass<?> checked(Pass<?> rewrite, String undone, String withoutCheck) {
            return Passes.simple(rewrite.name(), model -> {
                if (check == null) {
                    check = data.isEmpty() ? SyntheticTokens.of(model) : Optional.of(data);
                }
                if (check.isPresent()) {
                    return ExactRewrite.keepIfExact(rewrite, check.get(), undone).apply(model);
                }
                PassResult result = PassResult.of(rewrite.name());
                return withoutCheck == null ? result : result.note(rewrite.name(), withoutCheck);
            });
        }

        private PassResult decideCalibration(OnnxModel model) {
            PassResult result = PassResult.of("calibration");
            if (data.isEmpty()) {
                return result.note("calibration", "none given: data-free defaults (plain per-channel int8; no SmoothQuant, "
                        + "no outlier channels, no sensitivity ranking)");
            }
            if (matMulGroups(model, options, Set.of()).isEmpty()) {
                return result.note("calibration", "not needed: no MatMul or Gemm activation is quantized at run time (data unused)");
            }
            calibrated = true;
            return result;
        }

        /**
         * The calibrated float rewrites on the activations the products read, kept together only when the float model is
         * unchanged on the data; the outlier side paths they made then stay float.
         */
        private PassResult floatRewrites(OnnxModel model) {
            if (!calibrated) {
                return PassResult.of("rewrites");
            }
            ProductGroups quantized = m -> matMulGroups(m, options, Set.of());
            ChannelRanges ranges = ChannelRanges.observe(model, quantized.of(model).keySet(), data, options.calibrationSamples());
            report.note("calibration", ranges.samples() + " samples");
            OutlierChannels outliers = new OutlierChannels(new OutlierChannels.Options(options.outlierChannels()), ranges, quantized);
            ProductGroups notSplit = m -> {
                Map<String, List<Integer>> groups = matMulGroups(m, options, outliers.sideNodes());
                groups.keySet().removeAll(outliers.activations());
                return groups;
            };
            OptionalDouble alpha = options.smoothQuantAlpha();
            PassResult result = ExactRewrite.allOrNothing("rewrites", Passes.of(
                    alpha.isPresent() ? new ChannelShift(ranges, quantized) : null,
                    options.outlierChannels() > 0 ? outliers : null,
                    alpha.isPresent() ? new SmoothQuant(new SmoothQuant.Options(alpha.getAsDouble(), SmoothQuant.Smoothing.FOLD_OR_MUL),
                            ranges::absMax, notSplit) : null),
                    data, "quantized without them").apply(model);
            if (result.changedModel()) {
                outliers.sideNodes().forEach(n -> floatNodes.put(n, "outlier side path: computed in float by design"));
            }
            return result;
        }

        /** The {@code keepFloat} nodes whose own quantization error is largest stay float. */
        private PassResult keepMostSensitive(OnnxModel model) {
            PassResult result = PassResult.of("keep_float");
            if (!calibrated) {
                return result;
            }
            Map<String, Double> errors = Sensitivity.measure(model, options, floatNodes.keySet(), data);
            List<String> chosen = errors.keySet().stream().limit(options.keepFloat()).toList();
            StringBuilder detail = new StringBuilder();
            for (String node : chosen) {
                detail.append(detail.length() == 0 ? "" : ", ").append(node)
                        .append(String.format(Locale.ROOT, " (%.2g)", errors.get(node)));
            }
            chosen.forEach(n -> floatNodes.put(n, "kept float: among the " + options.keepFloat()
                    + " nodes that lose most to quantization (keep_float)"));
            return result.note("keep_float", chosen.size() + " nodes kept float, largest relative output error of their own "
                    + "quantization: " + detail);
        }

        private PassResult quantizeProducts(OnnxModel model) {
            long before = report.quantizedCount();
            quantizeNodes(model, options, floatNodes, report);
            return PassResult.of("quantize").addChanges((int) (report.quantizedCount() - before));
        }
    }

    /**
     * Activation -> positions of the MatMul/Gemm nodes that would be quantized on it, for the current graph.
     */
    static Map<String, List<Integer>> matMulGroups(OnnxModel model, DynamicOptions options, Set<String> floatNodes) {
        GraphEditor scratch = new GraphEditor(model);
        QuantizationContext context = new QuantizationContext(model, options, scratch, new QuantizationReport("plan"));
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        GraphIndex index = scratch.index();
        for (int i = 0; i < index.nodes().size(); i++) {
            NodeProto node = index.node(i);
            OperatorHandler handler = handler(node);
            if (handler == null || handler.activationInput(node) == null || floatNodes.contains(Graphs.nodeLabel(node))
                    || !handler.concerns(node, context) || !options.selector().selects(node)
                    || handler.unsupportedReason(node, context) != null) {
                continue;
            }
            groups.computeIfAbsent(handler.activationInput(node), k -> new ArrayList<>()).add(i);
        }
        return groups;
    }

    /**
     * How many nodes of the main graph the handlers would quantize, counted without editing anything; candidates that
     * must stay float go into {@code report} with the reason.
     */
    private static int quantizable(OnnxModel model, DynamicOptions options, QuantizationReport report) {
        GraphEditor scratch = new GraphEditor(model);
        QuantizationContext context = new QuantizationContext(model, options, scratch, report);
        int count = 0;
        for (NodeProto node : scratch.index().nodes()) {
            OperatorHandler handler = handler(node);
            if (handler == null || !handler.concerns(node, context)) {
                continue;
            }
            String reason = floatReason(node, handler, context, Map.of());
            if (reason == null) {
                count++;
            } else {
                report.skipped(Graphs.nodeLabel(node), node.getOpType(), reason);
            }
        }
        return count;
    }

    /** Why a node its handler concerns stays float (not selected, unsupported, or chosen float), or null. */
    private static String floatReason(NodeProto node, OperatorHandler handler, QuantizationContext context, Map<String, String> floatNodes) {
        String reason = context.options().selector().exclusionReason(node);
        if (reason == null) {
            reason = handler.unsupportedReason(node, context);
        }
        return reason != null ? reason : floatNodes.get(Graphs.nodeLabel(node));
    }

    private static OperatorHandler handler(NodeProto node) {
        return handler(HANDLERS, node);
    }

    private static OperatorHandler handler(Map<String, OperatorHandler> handlers, NodeProto node) {
        return ModelValidator.isDefaultDomain(node.getDomain()) ? handlers.get(node.getOpType()) : null;
    }

    /**
     * Stores the embedding tables (Gathers from constant float tables) as 8 bit, dequantized after the lookup, exactly
     * as the dynamic mode does; for passes that leave Gathers float themselves (static QDQ).
     */
    public static void quantizeEmbeddings(OnnxModel model, NodeSelector selector, QuantizationReport report) {
        quantizeNodes(model, DynamicOptions.DEFAULT.withSelector(selector), Map.of("Gather", HANDLERS.get("Gather")), Map.of(), report);
    }

    /** Runs every handler over the main graph in one edit. */
    static void quantizeNodes(OnnxModel model, DynamicOptions options, Map<String, String> floatNodes, QuantizationReport report) {
        quantizeNodes(model, options, HANDLERS, floatNodes, report);
    }

    private static void quantizeNodes(OnnxModel model, DynamicOptions options, Map<String, OperatorHandler> handlers,
                                      Map<String, String> floatNodes, QuantizationReport report) {
        GraphEditor editor = new GraphEditor(model);
        QuantizationContext context = new QuantizationContext(model, options, editor, report);
        GraphIndex index = editor.index();
        List<Integer> quantizedMatMuls = new ArrayList<>();
        for (int i = 0; i < index.nodes().size(); i++) {
            NodeProto node = index.node(i);
            OperatorHandler handler = handler(handlers, node);
            if (handler == null || !handler.concerns(node, context)) {
                continue;
            }
            String reason = floatReason(node, handler, context, floatNodes);
            if (reason != null) {
                report.skipped(Graphs.nodeLabel(node), node.getOpType(), reason);
                continue;
            }
            handler.quantize(i, node, context);
            if (ChannelScaling.isDefault(node, "MatMul")) {
                quantizedMatMuls.add(i);
            }
        }
        for (int position : quantizedMatMuls) {
            putBiasSecond(editor, index.node(position).getOutput(0), context);
        }
        editor.apply();
    }

    /**
     * ONNX Runtime folds a bias into MatMulIntegerToFloat only when it is the Add's second input; exporters often put
     * it first (Add(bias, x @ W)). Add is commutative, so swapping the inputs changes nothing else.
     */
    private static void putBiasSecond(GraphEditor editor, String product, QuantizationContext context) {
        GraphIndex index = editor.index();
        List<Integer> consumers = index.consumersOf(product);
        if (consumers.size() != 1 || index.isGraphOutput(product)) {
            return;
        }
        int position = consumers.get(0);
        NodeProto add = index.node(position);
        if (!add.getOpType().equals("Add") || !ModelValidator.isDefaultDomain(add.getDomain()) || add.getInputCount() != 2
                || editor.isReplaced(position) || !add.getInput(1).equals(product) || add.getInput(0).equals(product)
                || context.constant(add.getInput(0)).isEmpty()) {
            return;
        }
        editor.replace(position, List.of(add.toBuilder().setInput(0, product).setInput(1, add.getInput(0)).build()));
    }
}
