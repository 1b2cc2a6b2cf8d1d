package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.convert.ConversionReport.Rule;
import io.modelpress.core.convert.Float16Converter.Conversion;
import io.modelpress.core.convert.Float16Converter.Keep;
import io.modelpress.core.convert.Float16Converter.Plan;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.Similarity;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.TemporaryModel;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.recipe.RecipeSchema;
import io.modelpress.core.transform.ValueTypes;

import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Float16 conversion checked on data, after ONNX Runtime's auto mixed precision: the float32 model runs on the data
 * with every intermediate value exposed, values beyond float16's range keep their producers and readers in float32,
 * and the converted model's outputs are compared with the original's in ONNX Runtime. While an output misses the
 * bound, the nodes where float16 first goes wrong (their output deviates from float32 much more than their inputs)
 * are kept in float32 too, and the model is converted again, a bounded number of times. A check that still fails is
 * reported as failed, never as passed.
 *
 * <p>The static {@link ConstantRules} apply throughout; the check adds to them. The check runs the model with float32
 * inputs and outputs whatever {@code keep_io_types} says; only the final conversion follows that option.
 */
public final class AutoMixedPrecision {
    /** Samples checked when the recipe does not say (the recipe schema owns the default). */
    public static final int DEFAULT_SAMPLES = ((Number) RecipeSchema.CONVERT.get("check_samples").defaultValue()).intValue();
    /** Cosine every float output must keep when the recipe does not say (the recipe schema owns the default). */
    public static final double DEFAULT_MIN_COSINE = ((Number) RecipeSchema.CONVERT.get("min_cosine").defaultValue()).doubleValue();
    /**
     * Values whose magnitude exceeds this on the check data stay float32: float16's largest finite value (65504)
     * with a factor 4 of headroom, since a few samples rarely show a model's extremes.
     */
    static final float OVERFLOW_LIMIT = ConstantRules.MAX_FLOAT16 / 4;
    /**
     * Reference values (floats, over all batches) kept in memory so that each attempt runs only the candidate; beyond
     * this the original runs again beside each candidate.
     */
    static final long CACHED_FLOATS = 32L << 20;
    /** The most floats one value may hold on one batch for the check to copy it out and compare it. */
    static final long MAX_VALUE_FLOATS = 64L << 20;
    /** Conversions tried in all, each keeping more nodes float32 than the one before. */
    static final int MAX_ATTEMPTS = 8;
    /** A node's float16 output deviates when its relative L2 error to float32 exceeds this ... */
    static final double NODE_ERROR = 1e-2;
    /** ... and is this many times the largest error of its inputs: the node itself, not its inputs, went wrong. */
    static final double ERROR_GROWTH = 4;

    private AutoMixedPrecision() {
    }

    /**
     * @param data      inputs to check on (a data file's batches, or synthetic inputs)
     * @param dataName  what the data is, for the report
     * @param samples   samples of the data to use; 0 skips the check (static rules only)
     * @param minCosine bound for the cosine of every float output to the original, per batch
     * @param threads   ONNX Runtime intra-op threads
     */
    public record Settings(CalibrationData data, String dataName, int samples, double minCosine, int threads) {
    }

    /** Converts {@code model} in place and reports what stayed float32, and why, and how the check went. */
    public static ConversionReport convert(OnnxModel model, Float16Converter.Options options, Settings settings) {
        Map<String, ValueTypes.TensorType> types = ValueTypes.infer(model);
        boolean computesFloat32 = model.graph().getNodeList().stream().filter(n -> !Weights.isConstantNode(n))
                .flatMap(n -> n.getOutputList().stream()).anyMatch(v -> Check.isFloat32(types, v));
        if (settings.samples() <= 0 || settings.data().isEmpty() || !computesFloat32) {
            return Float16Converter.convert(model, options, types, Plan.STATIC).report();
        }
        Checked checked;
        try {
            checked = checkedConversion(model.copy(), types, options.selector(), settings);
        } catch (ModelPressException e) {
            throw new ModelPressException(e.code(), "float16 check on " + settings.dataName(), e.getMessage()
                    + " (give data that fits the model, or set check_samples: 0 to convert with the static rules only)", e);
        }
        ConversionReport report;
        if (options.keepIoTypes()) {
            model.proto().clear().mergeFrom(checked.model().build()); // the checked candidate is the result
            report = checked.conversion().report();
        } else {
            report = Float16Converter.convert(model, options, types, new Plan(checked.keep(), true)).report();
        }
        report.check(checked.check());
        return report;
    }

    /** The last candidate of a check: the model, its conversion, the nodes kept float32 by data, and the verdict. */
    private record Checked(OnnxModel model, Conversion conversion, Map<Integer, Keep> keep, ConversionReport.Check check) {
    }

    /** Converts copies of the original, with float32 edges, until the outputs pass the check or the attempts run out. */
    private static Checked checkedConversion(OnnxModel original, Map<String, ValueTypes.TensorType> types, NodeSelector selector,
                                             Settings settings) {
        Float16Converter.Options options = new Float16Converter.Options(true, selector);
        try (Check check = new Check(original, types, settings)) {
            Map<Integer, Keep> keep = check.overflowing();
            for (int attempt = 1; ; attempt++) {
                OnnxModel candidate = original.copy();
                Conversion conversion = Float16Converter.convert(candidate, options, types, new Plan(keep, true));
                Comparison comparison = check.compare(candidate, false);
                Map<String, Double> cosines = new LinkedHashMap<>(comparison.cosines());
                if (cosines.values().stream().allMatch(c -> c >= settings.minCosine())) {
                    // confirm on the model as it will run, with ONNX Runtime's own kernel choices and fusions
                    check.plainCosines(candidate).forEach((output, c) -> cosines.merge(output, c, Math::min));
                }
                List<String> failing = cosines.keySet().stream().filter(o -> !(cosines.get(o) >= settings.minCosine())).toList();
                String failure = null;
                if (!failing.isEmpty()) {
                    String missed = failing.stream().map(o -> "'" + o + "' cosine " + ConstantRules.number(cosines.get(o)))
                            .collect(Collectors.joining(", ")) + " (bound " + settings.minCosine() + ")";
                    Map<Integer, Keep> culprits = attempt < MAX_ATTEMPTS
                            ? check.culprits(conversion, check.compare(candidate, true).errors(), failing, missed) : Map.of();
                    if (!culprits.isEmpty()) {
                        keep.putAll(culprits);
                        continue;
                    }
                    failure = attempt == MAX_ATTEMPTS
                            ? "float16 outputs still differ from float32 after " + attempt + " attempts: " + missed
                            : "float16 outputs differ from float32: " + missed + ", and no float16 node is left to blame";
                }
                return new Checked(candidate, conversion, keep, new ConversionReport.Check(settings.dataName(), check.samples,
                        settings.minCosine(), attempt, cosines, failure));
            }
        }
    }

    /**
     * A candidate against the original with every value stored in its own type, as float16 hardware keeps them.
     *
     * @param cosines the lowest cosine over the batches of each float output to the original's
     * @param errors  the relative L2 error of each computed value (infinite where it has infinities, NaN or another
     *                shape that the original has not); of the outputs only, unless asked for all
     */
    private record Comparison(Map<String, Double> cosines, Map<String, Double> errors) {
    }

    /** The float32 original on the check data: its value ranges, its outputs, and comparisons with candidates. */
    private static final class Check implements AutoCloseable {
        private final Settings settings;
        private final List<NodeProto> nodes;
        private final GraphIndex index;
        /** Float32 values computed by the main graph's nodes: what gets exposed and compared. */
        private final List<String> computed = new ArrayList<>();
        /** Float32 graph outputs: what the check judges. */
        private final List<String> outputs = new ArrayList<>();
        private final Map<String, Float> maxAbs = new HashMap<>();
        /** The original's outputs, batch by batch. */
        private final List<Map<String, Values>> expected = new ArrayList<>();
        /** The original with every computed value exposed. */
        private final Runner reference;
        /** Its values batch by batch, kept while they fit {@link #CACHED_FLOATS}; null when they did not. */
        private List<Map<String, Values>> referenceValues = new ArrayList<>();
        private long cachedFloats;
        private int samples;

        Check(OnnxModel original, Map<String, ValueTypes.TensorType> types, Settings settings) {
            this.settings = settings;
            this.nodes = List.copyOf(original.graph().getNodeList());
            this.index = new GraphIndex(original.graph());
            for (NodeProto node : nodes) {
                if (!Weights.isConstantNode(node)) {
                    node.getOutputList().stream().filter(v -> isFloat32(types, v)).forEach(computed::add);
                }
            }
            original.graph().getOutputList().stream().map(ValueInfoProto::getName)
                    .filter(v -> isFloat32(types, v) && computed.contains(v)).forEach(outputs::add);
            reference = new Runner(exposing(original, computed), settings.threads(), false);
            try {
                observe();
            } catch (RuntimeException e) {
                reference.close();
                throw e;
            }
        }

        private static boolean isFloat32(Map<String, ValueTypes.TensorType> types, String value) {
            ValueTypes.TensorType t = types.get(value);
            return !value.isEmpty() && t != null && t.elementType() == DataType.FLOAT;
        }

        /** Runs the original once over the data: value ranges (inputs included) and the outputs to compare with. */
        private void observe() {
            settings.data().forEachBatch(settings.samples(), (inputs, batchSize) -> {
                for (Map.Entry<String, OnnxTensor> input : inputs.entrySet()) {
                    if (input.getValue().getInfo().type == OnnxJavaType.FLOAT) {
                        maxAbs.merge(input.getKey(), maxAbs(input.getValue().getFloatBuffer()), Math::max);
                    }
                }
                Map<String, Values> batchOutputs = new LinkedHashMap<>();
                Map<String, Values> batchValues = new HashMap<>();
                try (OrtSession.Result result = reference.run(inputs, computed)) {
                    for (String value : computed) {
                        Values v = Values.of(result, value);
                        maxAbs.merge(value, maxAbs(FloatBuffer.wrap(v.data())), Math::max);
                        if (outputs.contains(value)) {
                            batchOutputs.put(value, v);
                        }
                        batchValues.put(value, v);
                        cachedFloats += v.data().length;
                    }
                }
                expected.add(batchOutputs);
                if (referenceValues != null && cachedFloats <= CACHED_FLOATS) {
                    referenceValues.add(batchValues);
                } else {
                    referenceValues = null; // too big to keep: compare() runs the original again
                }
                samples += batchSize;
            });
        }

        private static float maxAbs(FloatBuffer values) {
            float max = 0;
            while (values.hasRemaining()) {
                float v = values.get();
                if (Float.isFinite(v)) {
                    max = Math.max(max, Math.abs(v));
                }
            }
            return max;
        }

        /** Nodes that produce or read a value beyond {@link #OVERFLOW_LIMIT} on the data. */
        Map<Integer, Keep> overflowing() {
            Map<Integer, Keep> keep = new LinkedHashMap<>();
            for (Map.Entry<String, Float> e : maxAbs.entrySet()) {
                if (e.getValue() <= OVERFLOW_LIMIT) {
                    continue;
                }
                String value = e.getKey();
                String size = ConstantRules.number(e.getValue());
                index.producerOf(value).filter(p -> !Weights.isConstantNode(nodes.get(p))).ifPresent(p -> keep.putIfAbsent(p,
                        new Keep(Rule.OVERFLOW, "its output '" + value + "' reaches " + size + " on the check data (float16 ends at 65504)")));
                for (int consumer : index.consumersOf(value)) {
                    keep.putIfAbsent(consumer, new Keep(Rule.OVERFLOW, "reads '" + value + "', which reaches " + size
                            + " on the check data (float16 ends at 65504)"));
                }
            }
            return keep;
        }

        /** Runs the candidate with every computed value exposed beside the original, batch by batch. */
        /**
         * @param errors also measure every computed value's error (for finding culprits); otherwise only the outputs
         *               are read, though every value is still stored in its own type
         */
        Comparison compare(OnnxModel candidate, boolean errors) {
            List<String> read = errors ? computed : outputs;
            Map<String, double[]> sums = new HashMap<>(); // value -> {sum of squares, sum of squared differences}
            Set<String> broken = new HashSet<>();
            Map<String, Double> cosines = new LinkedHashMap<>();
            outputs.forEach(o -> cosines.put(o, 1.0));
            int[] batch = {0};
            try (Runner converted = new Runner(exposing(candidate, computed), settings.threads(), false)) {
                settings.data().forEachBatch(settings.samples(), (inputs, batchSize) -> {
                    Map<String, Values> cached = referenceValues == null ? null : referenceValues.get(batch[0]);
                    batch[0]++;
                    try (OrtSession.Result want = cached == null ? reference.run(inputs, read) : null;
                         OrtSession.Result got = converted.run(inputs, read)) {
                        for (String value : read) {
                            Values w = cached == null ? Values.of(want, value) : cached.get(value);
                            Values g = Values.of(got, value);
                            if (outputs.contains(value)) {
                                cosines.merge(value, cosine(w, g), Math::min);
                            }
                            if (!Arrays.equals(w.shape(), g.shape())) {
                                broken.add(value);
                                continue;
                            }
                            double[] s = sums.computeIfAbsent(value, k -> new double[2]);
                            for (int i = 0; i < w.data().length; i++) {
                                float a = w.data()[i];
                                float b = g.data()[i];
                                if (!Float.isFinite(a) || !Float.isFinite(b)) {
                                    if (Float.compare(a, b) != 0) {
                                        broken.add(value);
                                    }
                                    continue;
                                }
                                s[0] += (double) a * a;
                                s[1] += ((double) b - a) * ((double) b - a);
                            }
                        }
                    }
                });
            }
            Map<String, Double> relativeErrors = new HashMap<>();
            sums.forEach((value, s) -> relativeErrors.put(value, s[1] == 0 ? 0 : s[0] == 0 ? 1 : Math.sqrt(s[1] / s[0])));
            broken.forEach(value -> relativeErrors.put(value, Double.POSITIVE_INFINITY));
            return new Comparison(cosines, relativeErrors);
        }

        /** The lowest cosine over the batches of each float output of the candidate, run as it is, to the original's. */
        Map<String, Double> plainCosines(OnnxModel candidate) {
            Map<String, Double> cosines = new LinkedHashMap<>();
            if (outputs.isEmpty()) {
                return cosines; // no float output to judge (its float values were judged through the stored run)
            }
            int[] batch = {0};
            try (Runner runner = new Runner(candidate, settings.threads(), true)) {
                settings.data().forEachBatch(settings.samples(), (inputs, batchSize) -> {
                    Map<String, Values> reference = expected.get(batch[0]++);
                    try (OrtSession.Result result = runner.run(inputs, outputs)) {
                        for (String output : outputs) {
                            cosines.merge(output, cosine(reference.get(output), Values.of(result, output)), Math::min);
                        }
                    }
                });
            }
            return cosines;
        }

        /**
         * The float16 nodes to keep in float32 next, among those the failing outputs depend on: each node whose output
         * deviates from float32 much more than its inputs do, or, where such a node already computes in float32 (its
         * float16 inputs lack what it needs, as in a cancellation), the nearest float16 nodes feeding it. When the
         * error grows gradually and no node stands out, the quarter of the float16 nodes with the largest growth.
         */
        Map<Integer, Keep> culprits(Conversion conversion, Map<String, Double> errors, List<String> failing, String missed) {
            Map<Integer, Keep> culprits = new LinkedHashMap<>();
            Map<Integer, double[]> growth = new HashMap<>();
            for (int i : ancestors(failing)) {
                NodeProto node = nodes.get(i);
                double out = node.getOutputList().stream().mapToDouble(v -> errors.getOrDefault(v, 0.0)).max().orElse(0);
                double in = node.getInputList().stream().mapToDouble(v -> errors.getOrDefault(v, 0.0)).max().orElse(0);
                boolean deviates = out > NODE_ERROR && out > ERROR_GROWTH * in;
                if (conversion.converted().contains(i)) {
                    if (deviates) {
                        culprits.put(i, new Keep(Rule.OUTPUT_CHECK, "its output " + deviation(out, in) + "; the outputs missed the check: " + missed));
                    } else if (out > in) {
                        growth.put(i, new double[] {out, in});
                    }
                } else if (deviates) {
                    String label = Graphs.nodeLabel(node);
                    for (int feeder : float16Feeders(i, conversion.converted())) {
                        culprits.putIfAbsent(feeder, new Keep(Rule.OUTPUT_CHECK, "feeds '" + label + "', whose output still "
                                + deviation(out, in) + " in float32: its float16 inputs lack what it needs; the outputs missed the check: " + missed));
                    }
                }
            }
            if (culprits.isEmpty() && !growth.isEmpty()) {
                List<Integer> byGrowth = new ArrayList<>(growth.keySet());
                byGrowth.sort(Comparator.comparingDouble((Integer i) -> growth.get(i)[0] / Math.max(growth.get(i)[1], 1e-9)).reversed());
                for (int i : byGrowth.subList(0, Math.max(1, byGrowth.size() / 4))) {
                    culprits.put(i, new Keep(Rule.OUTPUT_CHECK, "its output " + deviation(growth.get(i)[0], growth.get(i)[1])
                            + ", among the largest error growths; the outputs missed the check: " + missed));
                }
            }
            return culprits;
        }

        /** How a node's output differs from float32's, to follow "its output". */
        private static String deviation(double out, double in) {
            return Double.isInfinite(out) ? "has infinities, NaN or another shape where float32's has not"
                    : String.format(Locale.ROOT, "differs from float32 by %.3g%% (relative L2; its inputs by %.3g%%)", 100 * out, 100 * in);
        }

        /** The nearest float16 nodes upstream of a float32 node, reached through float32 nodes. */
        private Set<Integer> float16Feeders(int node, Set<Integer> converted) {
            Set<Integer> feeders = new LinkedHashSet<>();
            Set<Integer> seen = new HashSet<>(List.of(node));
            Deque<Integer> pending = new ArrayDeque<>(List.of(node));
            while (!pending.isEmpty()) {
                for (String input : nodes.get(pending.pop()).getInputList()) {
                    index.producerOf(input).filter(seen::add).filter(p -> !Weights.isConstantNode(nodes.get(p))).ifPresent(p -> {
                        if (converted.contains(p)) {
                            feeders.add(p);
                        } else {
                            pending.add(p);
                        }
                    });
                }
            }
            return feeders;
        }

        /** Main-graph nodes the given values depend on, Constant nodes left out. */
        private Set<Integer> ancestors(List<String> values) {
            Set<Integer> seen = new LinkedHashSet<>();
            Deque<String> pending = new ArrayDeque<>(values);
            while (!pending.isEmpty()) {
                index.producerOf(pending.pop()).filter(seen::add).ifPresent(p -> {
                    pending.addAll(nodes.get(p).getInputList());
                    pending.addAll(GraphIndex.implicitInputs(nodes.get(p)));
                });
            }
            seen.removeIf(p -> Weights.isConstantNode(nodes.get(p)));
            return seen;
        }

        /** A copy of the model that also outputs the given values (ONNX Runtime infers their types). */
        private static OnnxModel exposing(OnnxModel model, List<String> values) {
            OnnxModel exposed = model.copy();
            GraphProto.Builder graph = exposed.graph();
            Set<String> present = new HashSet<>();
            graph.getOutputList().forEach(o -> present.add(o.getName()));
            for (String value : values) {
                if (present.add(value)) {
                    graph.addOutput(ValueInfoProto.newBuilder().setName(value));
                }
            }
            return exposed;
        }

        @Override
        public void close() {
            reference.close();
        }
    }

    /** A float tensor's values (float16 widened) and shape, copied out of an ONNX Runtime result. */
    private record Values(float[] data, long[] shape) {
        static Values of(OrtSession.Result result, String name) {
            OnnxValue value = result.get(name).orElseThrow();
            OnnxTensor tensor = (OnnxTensor) value;
            long count = tensor.getInfo().getNumElements();
            if (count > MAX_VALUE_FLOATS) {
                throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "float16 check", "value '" + name + "' holds " + count
                        + " numbers on one batch of the check data, more than the check compares (" + MAX_VALUE_FLOATS + ")");
            }
            FloatBuffer buffer = tensor.getFloatBuffer(); // a fresh copy, float16 widened
            if (buffer == null) {
                throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "float16 check", "value '" + name + "' is not a float tensor");
            }
            float[] data;
            if (buffer.hasArray() && buffer.arrayOffset() == 0 && buffer.position() == 0 && buffer.array().length == buffer.remaining()) {
                data = buffer.array();
            } else {
                data = new float[buffer.remaining()];
                buffer.get(data);
            }
            return new Values(data, tensor.getInfo().getShape());
        }
    }

    /**
     * The cosine of a candidate's output to the original's. A shape change, or an infinity or NaN where the original has
     * a finite value (or another one), makes it 0: such an output has nothing in common with the original.
     */
    static double cosine(Values want, Values got) {
        if (!Arrays.equals(want.shape(), got.shape())) {
            return 0;
        }
        float[] a = want.data().clone();
        float[] b = got.data().clone();
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i]) || !Float.isFinite(b[i])) {
                if (Float.compare(a[i], b[i]) != 0) {
                    return 0;
                }
                a[i] = 0;
                b[i] = 0;
            }
        }
        return Similarity.cosine(a, b);
    }

    /** One ONNX Runtime session over a temporary copy of a model. */
    private static final class Runner implements AutoCloseable {
        private final TemporaryModel file;
        private final OrtSession.SessionOptions options;
        private final OrtSession session;

        /**
         * @param asItWillRun all of ONNX Runtime's optimisations, as a user's session gets them; otherwise basic ones
         *                    only, which keep every exposed value and its type, so that each value is stored as the
         *                    converted model says
         */
        Runner(OnnxModel model, int threads, boolean asItWillRun) {
            file = new TemporaryModel(model);
            options = new OrtSession.SessionOptions();
            try {
                options.setIntraOpNumThreads(threads);
                options.setOptimizationLevel(asItWillRun ? OrtSession.SessionOptions.OptLevel.ALL_OPT
                        : OrtSession.SessionOptions.OptLevel.BASIC_OPT);
                session = OrtEnvironment.getEnvironment().createSession(file.file().toString(), options);
            } catch (OrtException e) {
                options.close();
                file.close();
                throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "float16 check",
                        "ONNX Runtime cannot load the model: " + e.getMessage(), e);
            }
        }

        OrtSession.Result run(Map<String, OnnxTensor> inputs, List<String> fetch) throws OrtException {
            return session.run(inputs, new LinkedHashSet<>(fetch));
        }

        @Override
        public void close() {
            try {
                session.close();
            } catch (OrtException e) {
                // closing only frees native memory; nothing is lost
            } finally {
                options.close();
                file.close();
            }
        }
    }
}
