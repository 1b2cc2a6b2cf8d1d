package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.OpsetRequirement;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.StageSpec;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Dynamic int8 quantization: weights are stored as 8-bit integers ahead of time, activations are quantized at run
 * time by DynamicQuantizeLinear, and ONNX Runtime runs the products in integer kernels. With calibration data, outlier
 * activations are tamed first by exact float-model rewrites (see {@link #quantize(OnnxModel, DynamicOptions,
 * CalibrationData)}). Only the main graph is edited; subgraphs (If/Loop/Scan bodies) stay as they are.
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
     * Quantizes in place. With calibration data and the options asking for it, float rewrites come first, each exact
     * (checked by running the float model before and after): activation channels are centred for free
     * ({@link ChannelShift}), extreme outlier channels of FFN activations move to a float side path
     * ({@link OutlierChannels}), and SmoothQuant migrates the remaining outliers into the weights
     * ({@link SmoothQuant}); then the {@code keepFloat} nodes that lose most to quantization are found by measurement
     * ({@link Sensitivity}). Without data these steps are skipped and the report says so. A model with nothing to
     * quantize is left untouched (the data unread) and the report says why.
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
        OpsetRequirement.ensure(model, MINIMUM_OPSET, "DynamicQuantizeLinear and MatMulInteger", report);
        GraphEditor.sortTopologically(model);
        // the rewrites below change no output: data to check that on (made-up token inputs where none is given)
        Optional<CalibrationData> check = !options.sequenceMajor() ? Optional.empty()
                : data.isEmpty() ? SyntheticTokens.of(model) : Optional.of(data);
        if (options.sequenceMajor()) {
            // measured: the fold pays with the sequence-major layout and lost with the batch-major one (docs/recipes.md)
            check.ifPresent(c -> foldAttentionMasks(model, c, report));
        }
        Map<String, String> floatNodes = new HashMap<>();
        if (options.wantsCalibration() && data.isEmpty()) {
            report.note("calibration", "none given: data-free defaults (plain per-channel int8; no SmoothQuant, "
                    + "no outlier channels, no sensitivity ranking)");
        } else if (options.wantsCalibration() && matMulGroups(model, options, Set.of()).isEmpty()) {
            report.note("calibration", "not needed: no MatMul or Gemm activation is quantized at run time (data unused)");
        } else if (options.wantsCalibration()) {
            if (options.smoothQuantAlpha().isPresent() || options.outlierChannels() > 0) {
                rewrite(model, options, data, report).forEach(n -> floatNodes.put(n, "outlier side path: computed in float by design"));
            }
            if (options.keepFloat() > 0) {
                mostSensitive(model, options, floatNodes.keySet(), data, report).forEach(n -> floatNodes.put(n,
                        "kept float: among the " + options.keepFloat() + " nodes that lose most to quantization (keep_float)"));
            }
        }
        if (options.perChannel() && options.mergeSiblings()) {
            int merged = SiblingMatMulFusion.apply(model, options.selector(), floatNodes.keySet());
            if (merged > 0) {
                report.note("sibling_matmuls", merged + " MatMuls merged into the MatMul that shares their input (one integer kernel each)");
            }
        }
        quantizeNodes(model, options, floatNodes, report);
        if (options.sequenceMajor()) {
            if (check.isPresent()) {
                sequenceMajor(model, check.get(), report);
            } else {
                report.note("layout", "batch-major kept: without data the sequence-major model is checked on made-up token "
                        + "ids, masks and floats, and this model has other inputs");
            }
            check.ifPresent(c -> integerMaskColumns(model, c, report));
        }
        report.note("runtime", "standard ONNX operators only (DynamicQuantizeLinear, MatMulInteger, DequantizeLinear); "
                + "ONNX Runtime fuses them into its integer kernels");
        report.note("seconds", String.format(Locale.ROOT, "%.2f", (System.nanoTime() - start) / 1e9));
        return report;
    }

    /** The calibrated float rewrites; returns the nodes that must stay float (side paths, most sensitive nodes). */
    private static Set<String> rewrite(OnnxModel model, DynamicOptions options, CalibrationData data, QuantizationReport report) {
        OnnxModel original = model.copy();
        Map<String, List<Integer>> groups = matMulGroups(model, options, Set.of());
        ChannelRanges ranges = ChannelRanges.observe(model, groups.keySet(), data, options.calibrationSamples());
        report.note("calibration", ranges.samples() + " samples");
        Set<String> floatNodes = new HashSet<>();
        if (options.smoothQuantAlpha().isPresent()) {
            int shifted = ChannelShift.apply(model, ranges, groups);
            report.note("channel_shift", shifted + " activations centred per channel (folded into biases, no extra nodes)");
            groups = matMulGroups(model, options, Set.of());
        }
        Set<String> split = new HashSet<>();
        if (options.outlierChannels() > 0) {
            OutlierChannels.Result result = OutlierChannels.apply(model, ranges, groups, options.outlierChannels());
            floatNodes.addAll(result.sideNodes());
            split.addAll(result.activations());
            report.note("outlier_channels", result.channels() + " channels of " + result.activations().size()
                    + " activations computed in float on side paths");
        }
        if (options.smoothQuantAlpha().isPresent()) {
            Map<String, List<Integer>> remaining = matMulGroups(model, options, floatNodes);
            remaining.keySet().removeAll(split);
            SmoothQuant.Result result = SmoothQuant.apply(model, ranges, remaining, options.smoothQuantAlpha().getAsDouble());
            report.note("smoothquant", String.format(Locale.ROOT, "alpha %.2f; %d activations folded into their producer, %d with a Mul",
                    options.smoothQuantAlpha().getAsDouble(), result.folded(), result.multiplied()));
        }
        double deviation = FloatEquivalence.deviation(original, model, data);
        if (deviation > FloatEquivalence.TOLERANCE) {
            model.proto().clear().mergeFrom(original.build());
            report.note("rewrites", String.format(Locale.ROOT, "undone: the rewritten float model deviated by %.2g "
                    + "(relative) from the original; quantized without them", deviation));
            return Set.of();
        }
        report.note("rewrites", String.format(Locale.ROOT, "float model unchanged to %.1e (relative, checked on calibration data)", deviation));
        return floatNodes;
    }

    /**
     * Folds attention masks and score scales into the Q.K products ({@link AttentionMaskFold}), kept only when the float
     * model gives the same outputs before and after on {@code check}.
     */
    private static void foldAttentionMasks(OnnxModel model, CalibrationData check, QuantizationReport report) {
        keepIfExact(model, check, report, "attention_masks", "left as they were", counted(AttentionMaskFold::apply,
                " attention masks and score scales folded into the Q.K products (outputs checked unchanged)"));
    }

    /**
     * Moves token activations to sequence-major layout ({@link SequenceMajorLayout}), kept only when the quantized model
     * gives the same outputs before and after on {@code check} (calibration data, or {@link SyntheticTokens}).
     */
    private static void sequenceMajor(OnnxModel model, CalibrationData check, QuantizationReport report) {
        keepIfExact(model, check, report, "layout", "batch-major kept", m -> {
            SequenceMajorLayout.Result result = SequenceMajorLayout.apply(m);
            return new Outcome(result.applied(), SequenceMajorLayout.describe(result));
        });
    }

    /**
     * Moves the folded attention masks from float Concats over K into K's quantized input ({@link IntegerMaskColumns}),
     * kept only when the outputs on {@code check} are the same before and after.
     */
    private static void integerMaskColumns(OnnxModel model, CalibrationData check, QuantizationReport report) {
        keepIfExact(model, check, report, "mask_columns", "float mask columns kept", counted(IntegerMaskColumns::apply,
                " attention masks appended to K's quantized input as two uint8 columns (no float Concat over K)"));
    }

    /** A rewrite that returns how many places it changed, as an Outcome noting that count; nodes re-sorted if any. */
    private static Function<OnnxModel, Outcome> counted(ToIntFunction<OnnxModel> rewrite,
                                                                          String noteAfterCount) {
        return m -> {
            int changed = rewrite.applyAsInt(m);
            if (changed > 0) {
                GraphEditor.sortTopologically(m);
            }
            return new Outcome(changed > 0, changed > 0 ? changed + noteAfterCount : null);
        };
    }

    /** What a rewrite did: whether it changed the model, and the report note (null: nothing worth a note). */
    private record Outcome(boolean changed, String note) {
    }

    /**
     * Runs a rewrite that must not change the model's outputs, and keeps it only when the outputs on {@code check} are
     * the same before and after; otherwise, or when the rewrite throws, the model is restored and the note says why.
     */
    private static void keepIfExact(OnnxModel model, CalibrationData check, QuantizationReport report, String noteKey,
                                    String undone, Function<OnnxModel, Outcome> rewrite) {
        OnnxModel before = model.copy();
        String why;
        try {
            Outcome outcome = rewrite.apply(model);
            double deviation = outcome.changed() ? FloatEquivalence.deviation(before, model, check) : 0;
            if (deviation <= FloatEquivalence.TOLERANCE) {
                if (outcome.note() != null) {
                    report.note(noteKey, outcome.note());
                }
                return;
            }
            why = String.format(Locale.ROOT, "the rewritten model deviated by %.2g", deviation);
        } catch (RuntimeException e) {
            // an optimisation must never cost the user the quantized model: keep the graph that is known to work
            why = "the rewrite failed: " + e.getMessage();
        }
        model.proto().clear().mergeFrom(before.build());
        report.note(noteKey, undone + ": " + why);
    }

    /** The {@code keepFloat} nodes whose own quantization error is largest. */
    private static List<String> mostSensitive(OnnxModel model, DynamicOptions options, Set<String> floatNodes, CalibrationData data,
                                              QuantizationReport report) {
        Map<String, Double> errors = Sensitivity.measure(model, options, floatNodes, data);
        List<String> chosen = errors.keySet().stream().limit(options.keepFloat()).toList();
        StringBuilder detail = new StringBuilder();
        for (String node : chosen) {
            detail.append(detail.length() == 0 ? "" : ", ").append(node)
                    .append(String.format(Locale.ROOT, " (%.2g)", errors.get(node)));
        }
        report.note("keep_float", chosen.size() + " nodes kept float, largest relative output error of their own quantization: " + detail);
        return chosen;
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
