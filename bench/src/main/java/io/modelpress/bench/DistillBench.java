package io.modelpress.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.TempFiles;
import io.modelpress.core.data.Batch;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.Dataset;
import io.modelpress.core.data.Datasets;
import io.modelpress.core.data.HostArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.InterleavedTiming;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.LayerOptions;
import io.modelpress.core.prune.LayerPruner;
import io.modelpress.core.prune.PruneReport;
import io.modelpress.core.prune.StructuredOptions;
import io.modelpress.core.prune.StructuredPruner;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.stats.ModelFootprint;
import io.modelpress.examples.fashion.FashionMnist;
import io.modelpress.examples.fashion.FashionMnistTeacher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prune, distill, quantize (issue 17) on the Fashion-MNIST CNN teacher: structured pruning (core's public
 * {@link StructuredPruner}) to at most half the teacher's MACs, the {@code distill} stage on the training images with
 * the teacher as teacher, then the built-in {@code int8-static} recipe's quantize stage. Reported: top-1 on the 10,000
 * test images and agreement with the teacher after each step, file size against the teacher's, ONNX Runtime latency
 * at batch 32 (1 thread) of every step against the teacher in the same rounds, and the trainer's throughput.
 * {@code --quick}: 6,000 training samples, one epoch, fewer timing rounds (a few minutes on 2 cores); the default
 * trains 3 epochs on all 60,000. {@code --out FILE} (default bench/results/distill.md, --quick: distill-quick.md),
 * {@code --learning-rate R} (default 0.0005: at 0.002 the distill stage's ONNX Runtime check found NaN outputs, at 0.001
 * on 2,000 samples its loss became NaN after 76 steps, both with gradient clipping on).
 * {@code --qat}: the quantization-aware fine-tuning case instead (bench/results/qat.md, see
 * {@link #quantizationAwareTraining}); {@code --qat-quantize '{...}'} replaces its quantize stage, {@code --qat-epochs N}
 * its 3 epochs. {@code --minilm}: a 4-of-6-layer MiniLM distilled on unlabeled text, then int8-dynamic, against ONNX
 * Runtime's own int8 release (bench/results/distill-minilm.md, see {@link #miniLmStudent}; with --quick one epoch).
 */
public final class DistillBench {
    private static final double MAX_MACS_FRACTION = 0.5;

    private DistillBench() {
    }

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        boolean qat = false;
        boolean miniLm = false;
        Path out = null;
        Double learningRateOption = null;
        String qatQuantize = HARSH_STATIC;
        int qatEpochs = 3;
        String miniLmLoss = "cosine";
        Integer epochsOption = null;
        int trainLimit = Integer.MAX_VALUE;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--qat" -> qat = true;
                case "--minilm" -> miniLm = true;
                case "--qat-quantize" -> qatQuantize = args[++i];
                case "--qat-epochs" -> qatEpochs = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--learning-rate" -> learningRateOption = Double.parseDouble(args[++i]);
                case "--loss" -> miniLmLoss = args[++i];
                case "--epochs" -> epochsOption = Integer.parseInt(args[++i]);
                case "--train-limit" -> trainLimit = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --quick, --qat, --minilm, --qat-quantize '{ mode: static, ... }', --qat-epochs N, --out FILE, "
                        + "--learning-rate R; with --minilm: --loss cosine|pooled_cosine|embedding|mse, --epochs N, --train-limit N)");
            }
        }
        if (out == null) {
            out = Path.of("bench", "results", qat ? "qat.md" : miniLm ? "distill-minilm.md" : quick ? "distill-quick.md" : "distill.md");
        }
        System.setProperty("ai.djl.offline", "true");
        if (miniLm) {
            int epochs = epochsOption != null ? epochsOption : quick ? 1 : 3;
            miniLmStudent(quick, new MiniLmTraining(miniLmLoss, epochs, learningRateOption == null ? 2e-4 : learningRateOption, trainLimit),
                    out, arguments(args));
            return;
        }
        if (!FashionMnist.isPresent(FashionMnist.DEFAULT_DIR)) {
            throw new IllegalStateException("needs the Fashion-MNIST images: " + FashionMnist.INSTALL_HINT);
        }
        if (System.getenv("DNNL_MAX_CPU_ISA") == null) {
            System.err.println("warning: DNNL_MAX_CPU_ISA is not set; libtorch's AVX-512 convolution may return NaN "
                    + "(docs/operations.md): run with DNNL_MAX_CPU_ISA=AVX2");
        }
        if (qat) {
            quantizationAwareTraining(qatQuantize, learningRateOption == null ? 5e-4 : learningRateOption, qatEpochs, out, arguments(args));
            return;
        }
        double learningRate = learningRateOption == null ? 5e-4 : learningRateOption;
        int samples = quick ? 6_000 : 60_000;
        int epochs = quick ? 1 : 3;
        int rounds = quick ? 30 : 100;
        int threads = Runtime.getRuntime().availableProcessors();
        Path work = TempFiles.createDirectory("modelpress-dbench-");
        try {
            Path teacher = FashionMnistTeacher.trainOrLoad(FashionMnistTeacher.defaultCacheDir());

            // 1. structured pruning: the smallest ratio of the grid that brings the MACs to at most half
            OnnxModel model = OnnxModel.read(teacher);
            long teacherMacs = ModelFootprint.withoutGzip(model).macs();
            double ratio = 0;
            long prunedMacs = teacherMacs;
            long start = System.nanoTime();
            for (double r = 0.3; r <= 0.9 + 1e-9 && prunedMacs > MAX_MACS_FRACTION * teacherMacs; r += 0.05) {
                model = OnnxModel.read(teacher);
                StructuredPruner.prune(model, StructuredOptions.ratio(r), CalibrationData.NONE);
                prunedMacs = ModelFootprint.withoutGzip(model).macs();
                ratio = r;
            }
            double pruneSeconds = seconds(start);
            if (prunedMacs > MAX_MACS_FRACTION * teacherMacs) {
                throw new IllegalStateException("structured pruning did not reach " + MAX_MACS_FRACTION + " of the MACs");
            }
            Path pruned = work.resolve("pruned.onnx");
            model.write(pruned);

            // 2. distillation on the training images, the teacher as teacher
            String yaml = String.format(Locale.ROOT, "stages:\n  - distill: { epochs: %d, samples: %d, batch: 64, learning_rate: %s }\n",
                    epochs, samples, learningRate);
            StageSpec distillSpec = RecipeParser.parse(yaml, "distill-bench.yaml").stages().get(0);
            start = System.nanoTime();
            StageOutcome distilled = run(distillSpec, pruned, teacher, work.resolve("distill"), threads);
            double distillSeconds = seconds(start);
            JsonNode report = distilled.report();
            long trainedSamples = report.path("steps").asLong() * 64;

            // 3. static INT8 as the built-in recipe does it, calibrated on the training images
            start = System.nanoTime();
            StageOutcome quantized = run(Recipes.builtIn("int8-static").stages().get(0), distilled.model(), teacher,
                    work.resolve("int8"), threads);
            double quantizeSeconds = seconds(start);

            Map<String, Path> models = new LinkedHashMap<>();
            models.put("teacher fp32 (baseline)", teacher);
            models.put("pruned", pruned);
            models.put("pruned + distilled", distilled.model());
            models.put("pruned + distilled + int8-static", quantized.model());
            Map<String, String> madeIn = Map.of("pruned", String.format(Locale.ROOT, "%.1f s", pruneSeconds),
                    "pruned + distilled", String.format(Locale.ROOT, "%.1f s", distillSeconds),
                    "pruned + distilled + int8-static", String.format(Locale.ROOT, "%.1f s", quantizeSeconds));
            InterleavedTiming.Result timing = InterleavedTiming.run(contenders(models, imageFeeds(teacher, 32)),
                    InterleavedTiming.Plan.fixed(SessionSettings.DEFAULT.withThreads(1), 3, rounds, 10));
            InterleavedTiming.Samples base = timing.of("teacher fp32 (baseline)", 0);

            long teacherBytes = OnnxModel.fileBytes(teacher);
            StringBuilder md = new StringBuilder("# Prune, distill, quantize: Fashion-MNIST CNN\n\n")
                    .append("Measured ").append(Machine.date()).append(" on ").append(Machine.describe()).append(", ONNX Runtime ")
                    .append(ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion()).append(", DJL PyTorch on the CPU.\n")
                    .append("Command: `./mvnw -q -pl bench -am package -DskipTests && DNNL_MAX_CPU_ISA=AVX2 java -jar bench/target/modelpress-bench.jar DistillBench")
                    .append(quick ? " --quick" : "").append("`\n\n")
                    .append(String.format(Locale.ROOT, "Structured pruning ratio %.2f: MACs %,d -> %,d (%.1f%% of the teacher's). "
                            + "Distillation: learning rate %s, %d epoch(s) over %,d training images (%d held out for the best checkpoint), batch 64, "
                            + "%d optimizer steps, %.1f s in the stage: %.0f training samples/s (stage wall time, which includes "
                            + "reading the images, validation and the ONNX Runtime check; %d threads). Top-1 and agreement with the "
                            + "teacher on the 10,000 test images; latency: median ms per batch of 32 with 1 ONNX Runtime thread, "
                            + "3 sessions per model taking turns over %d rounds, and the median per-round ratio to the teacher "
                            + "(below 1 is faster).\n\n",
                            ratio, teacherMacs, prunedMacs, 100.0 * prunedMacs / teacherMacs, learningRate, epochs,
                            report.path("train_samples").asInt(), report.path("validation_samples").asInt(),
                            report.path("steps").asLong(), distillSeconds, trainedSamples / distillSeconds, threads, rounds))
                    .append("| model | bytes | of teacher | made in | top-1 | agreement with teacher | batch 32 ms | ratio to teacher |\n")
                    .append("|---|---|---|---|---|---|---|---|\n");
            for (var e : models.entrySet()) {
                EvaluationReport r = Evaluator.run(EvaluationRequest.of(e.getValue(), FashionMnist.DEFAULT_DIR).withReference(teacher)
                        .withLatencyBudget(Duration.ZERO).withSession(SessionSettings.DEFAULT.withThreads(threads)));
                long bytes = OnnxModel.fileBytes(e.getValue());
                InterleavedTiming.Samples s = timing.of(e.getKey(), 0);
                md.append(String.format(Locale.ROOT, "| %s | %,d | %.1f%% | %s | %.2f%% | %.2f%% | %.3f | %.2f |%n", e.getKey(), bytes,
                        100.0 * bytes / teacherBytes, madeIn.getOrDefault(e.getKey(), "-"), 100 * r.accuracy(), 100 * r.agreement(),
                        s.medianMs(), s.medianRatioTo(base)));
            }
            md.append("\nThe distill stage's report: `").append(report).append("`\n");
            publish(md, out, work);
        } catch (RuntimeException e) {
            System.err.println("the models made so far are kept in " + work);
            throw e;
        }
    }

    /**
     * The QAT case: static INT8 whose activation ranges clip at the 90th percentile of |activation| - a calibration
     * too tight for this CNN (the default, 99.999, loses 0.05 points here; even one scale per tensor with min-max
     * ranges loses under 0.1, so the CNN needs a harsh setting to lose a point at all).
     */
    static final String HARSH_STATIC = "{ mode: static, calibration: percentile, percentile: 90 }";

    /**
     * Quantization-aware fine-tuning: the teacher quantized statically in a way that costs accuracy, then the QDQ model
     * distilled from the fp32 teacher (the trainer trains the weights behind DequantizeLinear with a straight-through
     * estimator and stores new integer levels at the same scales). Reports the drop and how much of it came back.
     */
    private static void quantizationAwareTraining(String quantize, double learningRate, int epochs, Path out, String command)
            throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        int samples = 6_000;
        Path work = TempFiles.createDirectory("modelpress-qat-");
        try {
            Path teacher = FashionMnistTeacher.trainOrLoad(FashionMnistTeacher.defaultCacheDir());
            StageSpec quantizeSpec = RecipeParser.parse("stages:\n  - quantize: " + quantize + "\n", "qat-bench.yaml").stages().get(0);
            long start = System.nanoTime();
            StageOutcome quantized = run(quantizeSpec, teacher, teacher, work.resolve("int8"), threads);
            double quantizeSeconds = seconds(start);
            String yaml = String.format(Locale.ROOT, "stages:\n  - distill: { epochs: %d, samples: %d, batch: 64, learning_rate: %s }\n",
                    epochs, samples, learningRate);
            start = System.nanoTime();
            StageOutcome tuned = run(RecipeParser.parse(yaml, "qat-bench.yaml").stages().get(0), quantized.model(), teacher,
                    work.resolve("qat"), threads);
            double tuneSeconds = seconds(start);

            Map<String, Path> models = new LinkedHashMap<>();
            models.put("teacher fp32 (baseline)", teacher);
            models.put("static int8", quantized.model());
            models.put("static int8 + QAT", tuned.model());
            Map<String, EvaluationReport> results = new LinkedHashMap<>();
            for (var e : models.entrySet()) {
                results.put(e.getKey(), Evaluator.run(EvaluationRequest.of(e.getValue(), FashionMnist.DEFAULT_DIR).withReference(teacher)
                        .withLatencyBudget(Duration.ZERO).withSession(SessionSettings.DEFAULT.withThreads(threads))));
            }
            double teacherTop1 = results.get("teacher fp32 (baseline)").accuracy();
            double int8Top1 = results.get("static int8").accuracy();
            double qatTop1 = results.get("static int8 + QAT").accuracy();
            double drop = teacherTop1 - int8Top1;
            double recovered = drop > 0 ? (qatTop1 - int8Top1) / drop : Double.NaN;
            Map<String, Long> int8Ops = opCounts(quantized.model());
            Map<String, Long> qatOps = opCounts(tuned.model());
            JsonNode report = tuned.report();
            StringBuilder md = new StringBuilder("# Quantization-aware fine-tuning: Fashion-MNIST CNN\n\n")
                    .append("Measured ").append(Machine.date()).append(" on ").append(Machine.describe()).append(", ONNX Runtime ")
                    .append(ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion()).append(", DJL PyTorch on the CPU.\n")
                    .append("Command: `./mvnw -q -pl bench -am package -DskipTests && DNNL_MAX_CPU_ISA=AVX2 java -jar bench/target/modelpress-bench.jar DistillBench ")
                    .append(command).append("`\n\n")
                    .append("The case: `quantize: ").append(quantize).append("` - activation ranges clipped at the 90th percentile of |activation|, "
                            + "too tight for this CNN. Then `distill` on the static INT8 "
                            + "model itself (the student) against the fp32 teacher: ")
                    .append(String.format(Locale.ROOT, "%d epoch(s) over %,d training images (%d held out), batch 64, learning rate %s, "
                                    + "%d optimizer steps, %.1f s; the weights train through DequantizeLinear with a straight-through "
                                    + "estimator and are stored as new int8 levels at the same scales. Top-1 and agreement on the 10,000 test images.\n\n",
                            epochs, report.path("train_samples").asInt(), report.path("validation_samples").asInt(), learningRate,
                            report.path("steps").asLong(), tuneSeconds))
                    .append("| model | bytes | made in | top-1 | agreement with teacher |\n|---|---|---|---|---|\n");
            Map<String, String> madeIn = Map.of("static int8", String.format(Locale.ROOT, "%.1f s", quantizeSeconds),
                    "static int8 + QAT", String.format(Locale.ROOT, "%.1f s", tuneSeconds));
            for (var e : models.entrySet()) {
                EvaluationReport r = results.get(e.getKey());
                md.append(String.format(Locale.ROOT, "| %s | %,d | %s | %.2f%% | %.2f%% |%n", e.getKey(), OnnxModel.fileBytes(e.getValue()),
                        madeIn.getOrDefault(e.getKey(), "-"), 100 * r.accuracy(), 100 * r.agreement()));
            }
            md.append(String.format(Locale.ROOT, "%nStatic INT8 lost %.2f points; QAT won back %.2f of them (%.0f%% of the drop).%n",
                    100 * drop, 100 * (qatTop1 - int8Top1), 100 * recovered));
            md.append("QuantizeLinear/DequantizeLinear nodes before and after QAT: ").append(int8Ops).append(" -> ").append(qatOps)
                    .append(int8Ops.equals(qatOps) ? " (the same: the model stays static INT8)" : " (CHANGED)").append(".\n");
            md.append("\nThe distill stage's report: `").append(report).append("`\n");
            publish(md, out, work);
        } catch (RuntimeException e) {
            System.err.println("the models made so far are kept in " + work);
            throw e;
        }
    }

    /** How the MiniLM student is distilled: the recipe's loss, epochs and learning rate, and at most this many sentences. */
    record MiniLmTraining(String loss, int epochs, double learningRate, int trainLimit) {
    }

    /** Training text for the MiniLM student: WordNet usage examples, disjoint from every calibration and eval file. */
    static final Path MINILM_TRAIN = QuantizationBench.EXAMPLES_DATA.resolve("wordnet-train.jsonl");
    /** Sentences longer than this many words are left out of training: every batch is padded to the longest. */
    private static final int MAX_TRAIN_WORDS = 16;

    /**
     * all-MiniLM-L6-v2 cut to 4 of its 6 layers (`layers` keep 4, chosen by block influence), distilled from the
     * 6-layer model on unlabeled WordNet sentences (loss `cosine` unless --loss says otherwise), then `int8-dynamic`. Reported:
     * cosine of mean-pooled embeddings to the fp32 teacher on both evaluation sets, the training time, and latency at
     * 32x128 against ONNX Runtime's own quantized release (-q).
     */
    private static void miniLmStudent(boolean quick, MiniLmTraining plan, Path out, String command) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        int epochs = plan.epochs();
        double learningRate = plan.learningRate();
        int rounds = quick ? 10 : 30;
        Path teacher = ReferenceModels.minilm();
        Path tokenizer = ReferenceModels.minilmTokenizer();
        Path ortQuantized = ReferenceModels.minilmQuantized();
        Path work = TempFiles.createDirectory("modelpress-dbench-minilm-");
        try {
            OnnxModel model = OnnxModel.read(teacher);
            CalibrationData calibration = DatasetCalibration.forModel(model, QuantizationBench.WORDNET.calibration(), tokenizer);
            long start = System.nanoTime();
            PruneReport layers = LayerPruner.prune(model, LayerOptions.keep(4), calibration);
            double pruneSeconds = seconds(start);
            Path student = work.resolve("minilm-4-layers.onnx");
            model.write(student);

            List<String> train = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            for (String line : Files.readAllLines(MINILM_TRAIN)) {
                if (train.size() < plan.trainLimit() && json.readTree(line).path("text").asText().split("\\s+").length <= MAX_TRAIN_WORDS) {
                    train.add(line);
                }
            }
            Path trainFile = Files.write(work.resolve("train.jsonl"), train);
            String yaml = String.format(Locale.ROOT, "stages:\n  - distill: { loss: %s, epochs: %d, batch: 32, learning_rate: %s, validation: 0.05, "
                    + "samples: %d }\n", plan.loss(), epochs, learningRate, train.size());
            StageSpec spec = RecipeParser.parse(yaml, "distill-minilm.yaml").stages().get(0);
            Files.createDirectories(work.resolve("distill"));
            start = System.nanoTime();
            StageOutcome distilled = Stages.forType("distill").run(new StageContext(spec, student, teacher, List.of(trainFile), tokenizer,
                    work.resolve("distill"), threads, (fraction, message) -> System.out.printf("  %s: %s%n", spec.label(), message)));
            double distillSeconds = seconds(start);
            start = System.nanoTime();
            Path int8 = QuantizationBench.runFirstStage("int8-dynamic", distilled.model(), List.of(QuantizationBench.WORDNET.calibration()),
                    tokenizer, work.resolve("int8"));
            double quantizeSeconds = seconds(start);

            Map<String, Path> models = new LinkedHashMap<>();
            models.put("teacher fp32, 6 layers", teacher);
            models.put("ONNX Runtime -q (6 layers, int8; latency baseline)", ortQuantized);
            models.put("4 layers (`layers` keep 4)", student);
            models.put("4 layers + `distill`", distilled.model());
            models.put("4 layers + `distill` + `int8-dynamic`", int8);
            Map<String, HostArray> feeds = QuantizationBench.tokenFeeds(tokenizer, QuantizationBench.PYTHON_DOCS.eval(), 32, 128);
            Map<String, Path> timed = new LinkedHashMap<>(models);
            timed.remove("4 layers (`layers` keep 4)");
            InterleavedTiming.Result timing = InterleavedTiming.run(contenders(timed, feeds),
                    InterleavedTiming.Plan.fixed(SessionSettings.DEFAULT.withThreads(1), 3, rounds, 3));
            InterleavedTiming.Samples base = timing.of("ONNX Runtime -q (6 layers, int8; latency baseline)", 0);

            JsonNode report = distilled.report();
            StringBuilder md = new StringBuilder("# Distilling a 4-layer MiniLM student\n\n")
                    .append("Measured ").append(Machine.date()).append(" on ").append(Machine.describe()).append(", ONNX Runtime ")
                    .append(ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion()).append(", DJL PyTorch on the CPU.\n")
                    .append("Command: `./mvnw -q -pl bench -am package -DskipTests && DNNL_MAX_CPU_ISA=AVX2 java -jar bench/target/modelpress-bench.jar DistillBench ")
                    .append(command).append("`\n\n")
                    .append(String.format(Locale.ROOT, "Teacher: all-MiniLM-L6-v2 (fp32). Student: the same with 4 of its 6 layers "
                                    + "(`layers` keep 4; dropped by block influence on wordnet-calib.jsonl: %s; %.1f s). "
                                    + "Distilled on %,d unlabeled sentences of examples/data/wordnet-train.jsonl (WordNet usage examples of "
                                    + "at most %d words; disjoint from every evaluation and calibration file), loss `%s`, %d epoch(s), batch 32, learning rate %s: %d optimizer steps, %.1f s in the stage "
                                    + "(report: %.1f samples/s, %d threads). Then `int8-dynamic` (%.1f s). Cosine: mean-pooled embeddings "
                                    + "vs the fp32 teacher, mean / min, on the 640 sentences of each evaluation file (A: Python documentation, "
                                    + "another kind of text than the training set; B: WordNet usage examples). Latency: median ms per batch "
                                    + "of 32 x 128 real tokens, 1 ONNX Runtime thread, 3 sessions per model taking turns over %d rounds, and the "
                                    + "median per-round ratio to ONNX Runtime's own int8 release (-q; below 1 is faster).%n%n",
                            layers.notes().getOrDefault("dropped", layers.blocks().stream().filter(PruneReport.Block::removed)
                                    .map(b -> Integer.toString(b.index())).collect(java.util.stream.Collectors.joining(", "))),
                            pruneSeconds, train.size(), MAX_TRAIN_WORDS, plan.loss(), epochs, learningRate, report.path("steps").asLong(),
                            distillSeconds, report.path("samples_per_second").asDouble(), threads, quantizeSeconds, rounds))
                    .append("| model | bytes | cosine A (docs) | cosine B (WordNet) | 32x128 ms | ratio to -q |\n|---|---|---|---|---|---|\n");
            for (var e : models.entrySet()) {
                EvaluationReport.Spread a = QuantizationBench.cosine(e.getValue(), teacher, QuantizationBench.PYTHON_DOCS.eval(), tokenizer);
                EvaluationReport.Spread b = QuantizationBench.cosine(e.getValue(), teacher, QuantizationBench.WORDNET.eval(), tokenizer);
                String latency = "-";
                String ratio = "-";
                if (timed.containsKey(e.getKey())) {
                    InterleavedTiming.Samples t = timing.of(e.getKey(), 0);
                    latency = String.format(Locale.ROOT, "%.1f", t.medianMs());
                    ratio = String.format(Locale.ROOT, "%.2f", t.medianRatioTo(base));
                }
                md.append(String.format(Locale.ROOT, "| %s | %,d | %.4f / %.4f | %.4f / %.4f | %s | %s |%n", e.getKey(),
                        OnnxModel.fileBytes(e.getValue()), a.mean(), a.worst(), b.mean(), b.worst(), latency, ratio));
            }
            md.append("\nThe distill stage's report: `").append(report).append("`\n");
            publish(md, out, work);
        } catch (RuntimeException e) {
            System.err.println("the models made so far are kept in " + work);
            throw e;
        }
    }

    /** Prints the results, writes them to {@code out} and deletes the run's models. */
    private static void publish(CharSequence md, Path out, Path work) throws java.io.IOException {
        System.out.print(md);
        Results.write(out, md);
        TempFiles.deleteTree(work);
    }

    /** The options as a shell would need them typed (values with spaces quoted). */
    private static String arguments(String[] args) {
        List<String> quoted = new ArrayList<>();
        for (String a : args) {
            quoted.add(a.contains(" ") ? "'" + a + "'" : a);
        }
        return String.join(" ", quoted);
    }

    private static Map<String, Long> opCounts(Path model) {
        Map<String, Long> counts = new java.util.TreeMap<>();
        OnnxModel.read(model).graph().getNodeList().stream()
                .filter(n -> n.getOpType().equals("QuantizeLinear") || n.getOpType().equals("DequantizeLinear"))
                .forEach(n -> counts.merge(n.getOpType(), 1L, Long::sum));
        return counts;
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Runs one stage as the CLI and the workers do, the teacher as the run's original model, on the Fashion images. */
    private static StageOutcome run(StageSpec spec, Path input, Path teacher, Path dir, int threads) throws java.io.IOException {
        Files.createDirectories(dir);
        return Stages.forType(spec.type()).run(new StageContext(spec, input, teacher, List.of(FashionMnist.DEFAULT_DIR), null, dir,
                threads, (fraction, message) -> System.out.printf("  %s: %s%n", spec.label(), message)));
    }

    private static List<InterleavedTiming.Contender> contenders(Map<String, Path> models, Map<String, HostArray> feeds) {
        List<InterleavedTiming.Contender> contenders = new ArrayList<>();
        models.forEach((name, path) -> contenders.add(new InterleavedTiming.Contender(name, path, List.of(feeds))));
        return contenders;
    }

    private static Map<String, HostArray> imageFeeds(Path model, int batch) {
        try (ModelSession session = ModelSession.open(model, SessionSettings.DEFAULT.withThreads(1));
             Dataset data = Datasets.open(FashionMnist.DEFAULT_DIR, session.inputs(), DataOptions.DEFAULT.withSplit("test"))) {
            Batch first = data.next(batch);
            return first.inputs();
        }
    }
}
