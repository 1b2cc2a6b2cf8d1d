package io.modelpress.train.distill;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.BatchAxes;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.train.onnx.AdamW;
import io.modelpress.train.onnx.HostTensor;
import io.modelpress.train.onnx.LearningRateSchedule;
import io.modelpress.train.onnx.OnnxGraphModule;
import io.modelpress.train.onnx.OnnxTensors;
import io.modelpress.train.onnx.OnnxTrainer;
import io.modelpress.train.onnx.TrainingStep;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Distillation: the student (the stage's input model) learns the teacher's (the run's original model, run in ONNX
 * Runtime) outputs on the run's data, with the ONNX-on-DJL trainer (AdamW, warm-up and cosine learning rate). A
 * held-out part of the samples picks the best checkpoint, the student as given included, so the output is never worse
 * than the input on it. Pruned weights stay exactly zero (the model's sparsity record), and the trained weights are
 * written back into the student's ONNX graph, which is then checked to compute in ONNX Runtime what it computed in
 * the trainer.
 */
final class DistillStage implements Stage {
    /** The learning rate at the end of the cosine, as a fraction of the peak. */
    private static final double FINAL_RATE = 0.01;
    /** Output difference ONNX Runtime may show against the trainer: absolute, and relative to the largest value. */
    private static final double ORT_TOLERANCE = 1e-3;
    /**
     * For a student with QuantizeLinear nodes: ONNX Runtime and the trainer may round a value at a quantization
     * boundary to neighbouring levels, and one level of an activation moves the outputs by far more than float
     * rounding does. A write-back that went wrong moves them by much more than this.
     */
    private static final double QUANTIZED_ORT_TOLERANCE = 2e-2;

    @Override
    public StageOutcome run(StageContext context) {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        StageSpec spec = context.spec();
        String where = spec.label();
        Path dataFile = context.calibrationData();
        if (dataFile == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "needs data to distill on (a data file with the run): the "
                    + "student learns the teacher's outputs on its samples");
        }
        OnnxModel student = OnnxModel.read(context.input());
        List<ValueShape> inputs = student.inputs();
        List<String> notes = new ArrayList<>();
        ObjectNode report = JsonNodeFactory.instance.objectNode();

        context.progress().progress(0, "reading data");
        SampleSet data = SampleSet.read(dataFile, inputs, dataOptions(context, dataFile), (int) spec.integer("samples"));
        int batch = (int) spec.integer("batch");
        long fixedBatch = BatchAxes.fixedBatch(inputs);
        if (fixedBatch > 0 && fixedBatch != batch) {
            notes.add("batch " + batch + " replaced by " + fixedBatch + ": the model fixes its batch dimension");
            batch = (int) fixedBatch;
        }
        Split split = Split.of(data.size(), spec.number("validation"), fixedBatch > 0 ? batch : 1, spec.integer("seed"), where);

        List<String> distilled = distilledOutputs(student, spec.strings("outputs"), where);
        List<String> allOutputs = student.outputs().stream().map(ValueShape::name).toList();
        SessionSettings session = SessionSettings.DEFAULT.withThreads(context.threads());
        Map<String, String> hidden = hiddenPairs(student, spec.strings("hidden"), where);
        try (Teacher teacher = Teacher.open(context.original(), session, inputs, distilled, allOutputs, hidden)) {
            int[] probeRows = Teacher.range(0, Math.min(batch, data.size()));
            Map<String, Teacher.Target> probe = teacher.run(data.inputs(probeRows));
            DistillLoss loss = loss(spec, distilled, hidden.keySet(), probe, data.hasLabels(), notes);
            if (loss.labelledOutput() != null) {
                long[] shape = probe.get(loss.labelledOutput()).shape();
                data.checkLabels(shape[shape.length - 1], loss.labelledOutput());
            }
            context.progress().progress(0.01, "running the teacher on " + data.size() + " samples");
            boolean cutTokens = acceptsAnyTokenCount(inputs, data.tokenInputs()) && teacher.allowCutTokens(data, probeRows, probe);
            boolean cached = teacher.cache(data, batch);
            if (!cached) {
                notes.add("the teacher's outputs are too large to keep (over " + (Teacher.CACHE_BYTES >> 20)
                        + " MiB): it runs again for every batch");
            }

            int stepsPerEpoch = fixedBatch > 0 ? split.train().length / batch : (split.train().length + batch - 1) / batch;
            long totalSteps = spec.integer("steps") > 0 ? spec.integer("steps") : spec.integer("epochs") * stepsPerEpoch;
            double peak = spec.number("learning_rate");
            long warmup = Math.round(spec.number("warmup") * totalSteps);
            Device device = device(spec.string("device"));
            OnnxTrainer.Options options = OnnxTrainer.Options.defaults()
                    .withOptimizer(AdamW.Settings.defaults().withWeightDecay(spec.number("weight_decay"))
                            .withMaxGradNorm(spec.number("max_grad_norm")))
                    .withSchedule(LearningRateSchedule.warmupCosine(peak, warmup, totalSteps, peak * FINAL_RATE))
                    .withSeed((int) spec.integer("seed"))
                    .withModule(OnnxGraphModule.Options.defaults().withDevice(device));

            OnnxModel best = student.copy();
            Training training = new Training(context, data, split, teacher, loss, inputs, batch, fixedBatch > 0, cutTokens, device);
            try (OnnxTrainer trainer = OnnxTrainer.create(student, options)) {
                training.run(trainer, totalSteps, stepsPerEpoch, spec.integer("validate_every"), spec.integer("patience"),
                        spec.integer("seed"), best, notes);
                report.put("masked_tensors", trainer.parameters().stream().filter(p -> p.mask() != null).count());
                report.put("trained_tensors", trainer.parameters().size());
            }
            context.progress().progress(0.98, "writing the student and checking it in ONNX Runtime");
            best.write(context.outputModel());
            double difference = ortDifference(context.outputModel(), best, data, split, distilled, batch, session, where);

            ObjectNode outputs = report.putObject("outputs");
            ObjectNode hiddenReport = hidden.isEmpty() ? null : report.putObject("hidden");
            for (DistillLoss.Term term : loss.terms()) {
                ObjectNode o = (hidden.containsKey(term.output()) ? hiddenReport : outputs).putObject(term.output());
                if (hidden.containsKey(term.output())) {
                    o.put("teacher_value", hidden.get(term.output()));
                }
                o.put("loss", term.kind().key());
                if (term.output().equals(loss.labelledOutput())) {
                    o.put("hard_labels", true);
                }
            }
            report.put("temperature", spec.number("temperature"));
            report.put("alpha", spec.number("alpha"));
            report.put("train_samples", split.train().length);
            report.put("validation_samples", split.validation().length);
            report.put("batch", batch);
            report.put("steps", training.steps());
            report.put("epochs", (double) training.steps() * batch / split.train().length);
            report.put("learning_rate", peak);
            report.put("warmup_steps", warmup);
            report.put("device", device.isGpu() ? "gpu " + device.getDeviceId() : "cpu");
            report.put("teacher_outputs_cached", cached);
            report.put("batches_cut_to_longest", cutTokens);
            training.report(report);
            report.put("ort_max_abs_difference", difference);
        }
        if (!notes.isEmpty()) {
            report.putArray("notes").addAll(notes.stream().map(JsonNodeFactory.instance::textNode).toList());
        }
        context.progress().progress(1.0, "distilled");
        return new StageOutcome(context.outputModel(), report, null);
    }

    /** Whether every token input of the student leaves its token count (axis 1) open. */
    private static boolean acceptsAnyTokenCount(List<ValueShape> inputs, List<String> tokenInputs) {
        if (tokenInputs.isEmpty()) {
            return false;
        }
        for (ValueShape input : inputs) {
            if (tokenInputs.contains(input.name()) && (!input.rankKnown() || input.dims().size() != 2 || input.dims().get(1).isFixed())) {
                return false;
            }
        }
        return true;
    }

    /** Text data uses the run's tokenizer, else the one beside the original model; an IDX folder its training split. */
    private static DataOptions dataOptions(StageContext context, Path data) {
        Path tokenizer = context.tokenizer();
        if (tokenizer == null) {
            Path beside = context.original().toAbsolutePath().resolveSibling("tokenizer.json");
            tokenizer = Files.isRegularFile(beside) ? beside : null;
        }
        DataOptions options = DataOptions.DEFAULT.withTokenizer(tokenizer).withHints(context.hints());
        if (Files.isDirectory(data) && (Files.exists(data.resolve("train-images-idx3-ubyte.gz"))
                || Files.exists(data.resolve("train-images-idx3-ubyte")))) {
            options = options.withSplit("train");
        }
        return options;
    }

    private static Device device(String choice) {
        return choice.equals("auto") && Engine.getEngine("PyTorch").getGpuCount() > 0 ? Device.gpu() : Device.cpu();
    }

    /** The outputs asked for, or every floating-point output; each must be a floating-point output of the student. */
    private static List<String> distilledOutputs(OnnxModel student, List<String> requested, String where) {
        Map<String, ValueShape> outputs = new LinkedHashMap<>();
        student.outputs().forEach(o -> outputs.put(o.name(), o));
        List<String> chosen = requested.isEmpty()
                ? outputs.values().stream().filter(o -> o.type() != null && o.type().isFloatingPoint()).map(ValueShape::name).toList()
                : requested;
        for (String name : chosen) {
            ValueShape output = outputs.get(name);
            if (output == null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where + " outputs", "'" + name + "' is not an output of the "
                        + "student (outputs: " + String.join(", ", outputs.keySet()) + ")");
            }
            if (output.type() == null || !output.type().isFloatingPoint()) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where + " outputs", "'" + name + "' holds "
                        + (output.type() == null ? "values of unknown type" : output.type().displayName() + " values")
                        + "; only floating-point outputs can be distilled");
            }
        }
        if (chosen.isEmpty()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "the student has no floating-point output to distill");
        }
        return chosen;
    }

    /**
     * The recipe's hidden values, {@code name} (the same in both models) or {@code student=teacher}, as student value
     * -> teacher value; each must be computed by the student.
     */
    private static Map<String, String> hiddenPairs(OnnxModel student, List<String> entries, String where) {
        java.util.Set<String> computed = new java.util.HashSet<>();
        student.graph().getNodeList().forEach(n -> computed.addAll(n.getOutputList()));
        Map<String, String> pairs = new LinkedHashMap<>();
        for (String entry : entries) {
            String[] parts = entry.split("=", -1);
            String mine = parts[0].trim();
            String theirs = parts.length > 1 ? parts[1].trim() : mine;
            if (parts.length > 2 || mine.isEmpty() || theirs.isEmpty()) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where + " hidden", "'" + entry
                        + "' is neither a value name nor student_value=teacher_value");
            }
            if (!computed.contains(mine)) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where + " hidden", "'" + mine + "' is not computed by the student");
            }
            pairs.put(mine, theirs);
        }
        return pairs;
    }

    /** The loss of each output (the recipe's, or chosen by shape and name), and which output the labels apply to. */
    private static DistillLoss loss(StageSpec spec, List<String> outputs, java.util.Set<String> hidden, Map<String, Teacher.Target> probe,
                                    boolean labels, List<String> notes) {
        String choice = spec.string("loss");
        List<DistillLoss.Term> terms = new ArrayList<>();
        String labelled = null;
        for (String output : outputs) {
            int rank = probe.get(output).shape().length;
            DistillLoss.Kind kind = DistillLoss.Kind.named(choice);
            if (kind == null) {
                kind = rank >= 3 || (rank == 2 && output.toLowerCase(Locale.ROOT).matches(".*(embed|hidden|pool|sentence).*"))
                        ? DistillLoss.Kind.COSINE : rank == 2 ? DistillLoss.Kind.KD : DistillLoss.Kind.MSE;
            }
            if (kind == DistillLoss.Kind.KD && rank == 2 && labels && labelled == null) {
                labelled = output;
            }
            terms.add(new DistillLoss.Term(output, kind));
        }
        hidden.forEach(value -> terms.add(new DistillLoss.Term(value, DistillLoss.Kind.MSE)));
        if (labels && labelled == null) {
            notes.add("the data's labels are not used: no output is distilled as class scores [batch, classes] (loss kd)");
        }
        return new DistillLoss(terms, spec.number("temperature"), spec.number("alpha"), labelled);
    }

    /**
     * The largest difference between the written model's outputs in ONNX Runtime and in the trainer, on the first
     * validation (else training) samples.
     *
     * @throws ModelPressException RUNTIME_ERROR when they differ by more than {@link #ORT_TOLERANCE} (quantized students:
     *                             {@link #QUANTIZED_ORT_TOLERANCE}) times 1 + the largest output
     */
    private static double ortDifference(Path written, OnnxModel model, SampleSet data, Split split, List<String> outputs, int batch,
                                        SessionSettings session, String where) {
        int[] source = split.validation().length >= Math.min(batch, split.train().length) ? split.validation() : split.train();
        int[] rows = Arrays.copyOf(source, Math.min(batch, source.length));
        Map<String, HostArray> feeds = data.inputs(rows);
        boolean quantized = model.graph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("QuantizeLinear"));
        double tolerance = quantized ? QUANTIZED_ORT_TOLERANCE : ORT_TOLERANCE;
        Map<String, HostArray> ort;
        // unfused, so that ONNX Runtime quantizes where the graph says, as the trainer does
        try (ModelSession runtime = ModelSession.open(written, quantized ? session.withOptimization(OptLevel.NO_OPT) : session)) {
            ort = runtime.run(feeds);
        }
        double worst = 0;
        try (OnnxGraphModule module = OnnxGraphModule.load(model); NDManager scope = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            Map<String, NDArray> mine = module.predict(scope, arrays(scope, feeds, module.inputs()), outputs);
            for (String output : outputs) {
                float[] expected = ort.get(output).toFloats();
                float[] actual = mine.get(output).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
                double largest = 0;
                double difference = 0;
                for (int i = 0; i < expected.length; i++) {
                    largest = Math.max(largest, Math.abs(expected[i]));
                    difference = Math.max(difference, Math.abs(expected[i] - actual[i]));
                }
                if (expected.length != actual.length || !(difference <= tolerance * (1 + largest))) {
                    throw new ModelPressException(ErrorCode.RUNTIME_ERROR, where, "the distilled model's output '" + output
                            + "' differs in ONNX Runtime from the trainer's (largest difference " + difference + "); the output is not trusted");
                }
                worst = Math.max(worst, difference);
            }
        }
        return worst;
    }

    /** Host arrays as engine arrays of the model's declared input types. */
    static Map<String, NDArray> arrays(NDManager manager, Map<String, HostArray> batch, List<ValueShape> inputs) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (ValueShape input : inputs) {
            HostArray array = batch.get(input.name());
            DataType type = input.type() == null ? array.type() : input.type();
            out.put(input.name(), array(manager, array, type));
        }
        return out;
    }

    private static NDArray array(NDManager manager, HostArray array, DataType type) {
        Shape shape = new Shape(array.shape());
        if (type.isFloatingPoint()) {
            NDArray floats = manager.create(array.toFloats(), shape);
            return type == DataType.FLOAT ? floats : OnnxTensors.cast(floats, OnnxTensors.djlType(type));
        }
        long[] values = new long[array.elementCount()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.getLong(i);
        }
        return OnnxTensors.toArray(manager, new HostTensor(type, array.shape(), values));
    }

    /** Which samples train and which validate. */
    record Split(int[] train, int[] validation) {
        /**
         * A seeded shuffle of the samples, the last {@code fraction} of them for validation (a whole number of
         * {@code multiple}s, for models that fix their batch).
         */
        static Split of(int samples, double fraction, int multiple, long seed, String where) {
            int[] order = Teacher.range(0, samples);
            shuffle(order, new Random(seed));
            int validation = fraction > 0 ? Math.max(1, (int) Math.round(samples * fraction)) : 0;
            validation -= validation % multiple;
            if (samples - validation < multiple) {
                throw new ModelPressException(ErrorCode.BAD_DATA, where, "has " + samples + " samples, too few to distill on"
                        + (validation > 0 ? " with a validation part of " + validation : ""));
            }
            return new Split(Arrays.copyOf(order, samples - validation), Arrays.copyOfRange(order, samples - validation, samples));
        }
    }

    static void shuffle(int[] values, Random random) {
        for (int i = values.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = values[i];
            values[i] = values[j];
            values[j] = t;
        }
    }

    /** The training loop with its validations, and what it measured. */
    private static final class Training {
        /** Steps in a row whose loss or gradients may be non-finite before the stage gives up. */
        private static final int MAX_SKIPPED_IN_A_ROW = 5;
        /** Batches whose samples are sorted by length together (see {@link #epochBatches}). */
        private static final int BUCKET_BATCHES = 16;
        private final StageContext context;
        private final SampleSet data;
        private final Split split;
        private final Teacher teacher;
        private final DistillLoss loss;
        private final List<ValueShape> inputs;
        private final int batch;
        private final boolean fullBatchesOnly;
        /** Whether text batches are cut to their longest sample, and so drawn from samples of similar lengths. */
        private final boolean cutTokens;
        private final List<String> outputs;
        private final Device device;
        private long steps;
        private long skippedSteps;
        private int skippedInARow;
        private Validation before;
        private Validation bestValidation;
        private Validation last;
        private long bestStep;
        private boolean stoppedEarly;
        private double firstLoss = Double.NaN;
        private double lastLoss = Double.NaN;
        private double seconds;

        Training(StageContext context, SampleSet data, Split split, Teacher teacher, DistillLoss loss, List<ValueShape> inputs,
                 int batch, boolean fullBatchesOnly, boolean cutTokens, Device device) {
            this.context = context;
            this.cutTokens = cutTokens;
            this.device = device;
            this.data = data;
            this.split = split;
            this.teacher = teacher;
            this.loss = loss;
            this.inputs = inputs;
            this.batch = batch;
            this.fullBatchesOnly = fullBatchesOnly;
            this.outputs = loss.terms().stream().map(DistillLoss.Term::output).toList();
        }

        long steps() {
            return steps;
        }

        void run(OnnxTrainer trainer, long totalSteps, int stepsPerEpoch, long validateEvery, long patience, long seed,
                 OnnxModel best, List<String> notes) {
            boolean validating = split.validation().length > 0;
            long every = validateEvery > 0 ? validateEvery : Math.max(1, stepsPerEpoch);
            if (validating) {
                before = validate(trainer);
                bestValidation = before;
            }
            Random shuffler = new Random(seed + 1);
            java.util.ArrayDeque<int[]> epoch = new java.util.ArrayDeque<>();
            long started = System.nanoTime();
            long lastReport = 0;
            double windowLoss = 0;
            int window = 0;
            long sinceBetter = 0;
            for (long step = 0; step < totalSteps; step++) {
                if (epoch.isEmpty()) {
                    epoch.addAll(epochBatches(shuffler));
                }
                int[] rows = epoch.poll();
                float value = trainStep(trainer, rows);
                if (Float.isFinite(value)) {
                    trainer.optimizerStep();
                } else {
                    trainer.discardGradients();
                }
                if (!Float.isFinite(value) || trainer.lastStepSkipped()) {
                    // one bad batch is skipped, not applied: a single NaN update would ruin every weight
                    skippedSteps++;
                    if (++skippedInARow >= MAX_SKIPPED_IN_A_ROW) {
                        throw new ModelPressException(ErrorCode.RUNTIME_ERROR, context.spec().label(), "the loss or its gradients were"
                                + " not finite in " + skippedInARow + " steps in a row (the last at step " + (step + 1)
                                + "); a lower learning_rate may help");
                    }
                    continue;
                }
                skippedInARow = 0;
                steps = step + 1;
                if (Double.isNaN(firstLoss)) {
                    firstLoss = value;
                }
                windowLoss += value;
                window++;
                long now = System.nanoTime();
                if (now - lastReport > 1_000_000_000L || steps == totalSteps) {
                    double elapsed = (now - started) / 1e9;
                    double eta = elapsed / steps * (totalSteps - steps);
                    context.progress().progress(0.02 + 0.95 * steps / totalSteps, String.format(Locale.ROOT,
                            "step %d/%d, loss %.4f, ETA %.0fs", steps, totalSteps, windowLoss / window, eta));
                    lastLoss = windowLoss / window;
                    windowLoss = 0;
                    window = 0;
                    lastReport = now;
                }
                if (validating && (steps % every == 0 || steps == totalSteps)) {
                    last = validate(trainer);
                    if (last.loss() < bestValidation.loss()) {
                        bestValidation = last;
                        bestStep = steps;
                        sinceBetter = 0;
                        trainer.writeBack(best);
                    } else if (patience > 0 && ++sinceBetter >= patience) {
                        stoppedEarly = steps < totalSteps;
                        break;
                    }
                }
            }
            if (window > 0) {
                lastLoss = windowLoss / window;
            }
            seconds = (System.nanoTime() - started) / 1e9;
            if (!validating) {
                trainer.writeBack(best);
                bestStep = steps;
            } else if (bestStep == 0) {
                notes.add("no step improved the validation loss: the student is returned as it came");
            }
        }

        /**
         * One epoch's batches: the training samples shuffled and cut into batches (only whole ones where the model fixes
         * its batch). When batches are cut to their longest sample, each run of {@link #BUCKET_BATCHES} batches is
         * first sorted by length, so that a batch holds samples of similar lengths, and the batches are shuffled again.
         */
        private List<int[]> epochBatches(Random shuffler) {
            int[] order = split.train().clone();
            shuffle(order, shuffler);
            if (cutTokens) {
                int bucket = batch * BUCKET_BATCHES;
                for (int from = 0; from < order.length; from += bucket) {
                    int to = Math.min(order.length, from + bucket);
                    Integer[] part = new Integer[to - from];
                    for (int i = from; i < to; i++) {
                        part[i - from] = order[i];
                    }
                    Arrays.sort(part, java.util.Comparator.comparingInt(data::tokens));
                    for (int i = from; i < to; i++) {
                        order[i] = part[i - from];
                    }
                }
            }
            List<int[]> batches = new ArrayList<>();
            for (int from = 0; from < order.length; from += batch) {
                if (fullBatchesOnly && from + batch > order.length) {
                    break;
                }
                batches.add(Arrays.copyOfRange(order, from, Math.min(order.length, from + batch)));
            }
            if (cutTokens) {
                java.util.Collections.shuffle(batches, shuffler);
            }
            return batches;
        }

        private int tokens(int[] rows) {
            return cutTokens ? data.tokens(rows) : data.paddedTokens();
        }

        private float trainStep(OnnxTrainer trainer, int[] rows) {
            int tokens = tokens(rows);
            Map<String, Teacher.Target> targets = teacher.targets(data, rows, tokens);
            try (TrainingStep step = trainer.newStep()) {
                Map<String, NDArray> out = step.forward(arrays(step.manager(), data.inputs(rows, tokens), inputs), outputs);
                return step.backward(loss.loss(step.manager(), out, targets, data.labels(rows), data.attentionMask(rows, tokens)));
            }
        }

        /** The loss on the validation samples (inference mode), and agreement with the teacher's top-1 class. */
        private Validation validate(OnnxTrainer trainer) {
            int[] all = split.validation().clone();
            if (cutTokens) {
                // batches of similar lengths, as in training
                Integer[] sorted = Arrays.stream(all).boxed().toArray(Integer[]::new);
                Arrays.sort(sorted, java.util.Comparator.comparingInt(data::tokens));
                all = Arrays.stream(sorted).mapToInt(Integer::intValue).toArray();
            }
            double lossSum = 0;
            long agreeing = 0;
            long compared = 0;
            String classOutput = loss.terms().stream().filter(t -> t.kind() == DistillLoss.Kind.KD).map(DistillLoss.Term::output)
                    .findFirst().orElse(null);
            for (int from = 0; from + (fullBatchesOnly ? batch : 1) <= all.length; from += batch) {
                int[] rows = Arrays.copyOfRange(all, from, Math.min(all.length, from + batch));
                int tokens = tokens(rows);
                Map<String, Teacher.Target> targets = teacher.targets(data, rows, tokens);
                try (NDManager scope = NDManager.newBaseManager(device, "PyTorch")) {
                    Map<String, NDArray> out = trainer.predict(scope, arrays(scope, data.inputs(rows, tokens), inputs), outputs);
                    lossSum += rows.length * (double) loss.loss(scope, out, targets, data.labels(rows), data.attentionMask(rows, tokens))
                            .toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat();
                    if (classOutput != null) {
                        Teacher.Target t = targets.get(classOutput);
                        long classes = t.shape()[t.shape().length - 1];
                        int vectors = (int) (t.values().length / Math.max(1, classes));
                        long[] theirs = DistillLoss.argmax(t.values(), vectors);
                        long[] ours = DistillLoss.argmax(out.get(classOutput).toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                                .toFloatArray(), vectors);
                        for (int i = 0; i < vectors; i++) {
                            agreeing += theirs[i] == ours[i] ? 1 : 0;
                        }
                        compared += vectors;
                    }
                }
            }
            int samples = fullBatchesOnly ? all.length - all.length % batch : all.length;
            return new Validation(lossSum / samples, compared == 0 ? null : (double) agreeing / compared);
        }

        void report(ObjectNode report) {
            report.put("train_seconds", seconds);
            report.put("samples_per_second", seconds > 0 ? steps * batch / seconds : 0);
            report.put("skipped_steps", skippedSteps);
            report.put("first_loss", firstLoss);
            report.put("last_loss", lastLoss);
            if (before != null) {
                ObjectNode v = report.putObject("validation");
                before.into(v.putObject("before"));
                bestValidation.into(v.putObject("best"));
                if (last != null) {
                    last.into(v.putObject("last"));
                }
                v.put("best_step", bestStep);
                v.put("stopped_early", stoppedEarly);
            }
        }
    }

    /** Validation results: mean loss per sample, and the fraction of top-1 answers shared with the teacher (or null). */
    record Validation(double loss, Double agreement) {
        void into(ObjectNode json) {
            json.put("loss", loss);
            if (agreement != null) {
                json.put("agreement", agreement);
            }
        }
    }
}
