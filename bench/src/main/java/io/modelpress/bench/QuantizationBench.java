package io.modelpress.bench;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.TempFiles;
import io.modelpress.core.data.Batch;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.Dataset;
import io.modelpress.core.data.Datasets;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.InterleavedTiming;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.examples.fashion.FashionMnist;
import io.modelpress.examples.fashion.FashionMnistTeacher;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The quantization benchmark (issue 3): every mode through the product's own stages and built-in recipes, judged in
 * one process on one machine against its baseline.
 *
 * <ul>
 * <li>all-MiniLM-L6-v2: fp32, ONNX Runtime's own dynamic INT8 release ({@code -q}, the baseline of the latency
 *     ratios), ModelPress dynamic INT8, weight-only INT4, FP16 - size, quantization time, cosine of mean-pooled
 *     sentence embeddings to fp32 on the 640 eval sentences (calibration on the disjoint calibration set), latency at
 *     32 x 128 and 1 x 32 tokens with 1 and 2 ONNX Runtime threads; and the same cosines with calibration and
 *     evaluation text of two different kinds (Python documentation, WordNet's usage examples) and without
 *     calibration data, crossed;</li>
 * <li>the Fashion-MNIST CNN teacher: fp32 (the baseline) vs static INT8 - size, top-1 on the 10k test images,
 *     latency at batch 32 and 1;</li>
 * <li>static calibration memory: peak heap while calibrating on 256 and on 4,096 samples.</li>
 * </ul>
 *
 * Latency: models take turns in a shuffled order each round, so machine noise hits all alike; reported are the
 * median wall time and the median over rounds of (time / baseline's time in the same round). With one thread, ONNX
 * Runtime runs on the calling thread, so its CPU time is reported too: the most stable figure on a shared machine.
 * Each model is timed in 3 sessions (their mean counts), because where ONNX Runtime places a session's buffers moves
 * its speed by several percent. Options: {@code --runs N} timed rounds (default 15), {@code --sessions N} sessions per
 * model (default 3), {@code --out FILE} (default bench/results/quantization.md), {@code --fidelity-only} (no latency
 * and no memory probes: sizes, cosines and top-1 only, in a few minutes on a busy machine; default out
 * bench/results/quantization-fidelity.md).
 */
public final class QuantizationBench {
    static final Path EXAMPLES_DATA = Path.of("examples", "data");
    private static final String QUANTIZED_BY_ORT = "ONNX Runtime -q (baseline)";
    private static final List<String> MINILM_RECIPES = List.of("int8-dynamic", "int4-weight-only", "fp16");

    /** One kind of English text: a calibration file and a disjoint evaluation file (examples/data/README.md). */
    record TextSource(String label, String kind, Path calibration, Path eval) {
        String describe() {
            return label + " = " + kind + " (" + calibration.getFileName() + " / " + eval.getFileName() + ")";
        }
    }

    static final TextSource PYTHON_DOCS = new TextSource("A", "sentences from Python's documentation",
            EXAMPLES_DATA.resolve("sentences-calib.jsonl"), EXAMPLES_DATA.resolve("sentences-eval.jsonl"));
    static final TextSource WORDNET = new TextSource("B", "WordNet's usage examples (everyday English)",
            EXAMPLES_DATA.resolve("wordnet-calib.jsonl"), EXAMPLES_DATA.resolve("wordnet-eval.jsonl"));
    static final List<TextSource> TEXT_SOURCES = List.of(PYTHON_DOCS, WORDNET);

    private QuantizationBench() {
    }

    record Timing(double wallMs, double wallRatio, double cpuMs, double cpuRatio) {
        String cell(boolean withCpu) {
            String wall = String.format(Locale.ROOT, "%.2f (%.3f)", wallMs, wallRatio);
            return withCpu ? wall + String.format(Locale.ROOT, " / cpu %.3f", cpuRatio) : wall;
        }
    }

    public static void main(String[] args) throws Exception {
        int runs = 15;
        int sessions = 3;
        boolean latency = true;
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--sessions" -> sessions = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--fidelity-only" -> latency = false;
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --runs N, --sessions N, --out FILE, --fidelity-only)");
            }
        }
        if (out == null) {
            out = Path.of("bench", "results", latency ? "quantization.md" : "quantization-fidelity.md");
        }
        System.setProperty("ai.djl.offline", "true");
        String machine = Machine.describe();
        Path work = TempFiles.createDirectory("modelpress-qbench-");
        StringBuilder md = new StringBuilder("# Quantization benchmark\n\n")
                .append("Measured ").append(Machine.date()).append(" on ").append(machine).append(", ONNX Runtime ")
                .append(ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion()).append(".\n")
                .append("Command: `./mvnw -q -pl bench -am package -DskipTests && java -jar bench/target/modelpress-bench.jar QuantizationBench")
                .append(latency ? "" : " --fidelity-only").append("`\n\n")
                .append(latency ? "Each latency sample averages as many runs of a model as make it last about 20 ms. Every "
                        + "model is timed in " + sessions + " ONNX Runtime sessions (where a session's buffers land "
                        + "moves its speed by up to 7%), all sessions take turns in a shuffled order each round, a model's time "
                        + "in a round is the mean over its sessions, and ratios are medians of per-round ratios.\n\n"
                        : "Fidelity only: no latency columns, no calibration-memory probes.\n\n");
        System.out.print(md);
        try {
            // each section is printed when it is done: the next one may train the CNN teacher first
            Results.printAndAppend(md, miniLm(work, runs, sessions, latency));
            Results.printAndAppend(md, cnn(work, runs, sessions, latency));
            if (latency) {
                Results.printAndAppend(md, calibrationMemory(work));
            }
        } finally {
            TempFiles.deleteTree(work);
        }
        Results.write(out, md);
    }

    // ------------------------------------------------------------------------------------------------ MiniLM

    private static String miniLm(Path work, int runs, int sessions, boolean withLatency) throws Exception {
        Path fp32 = ReferenceModels.minilm();
        Path tokenizer = ReferenceModels.minilmTokenizer();
        Path eval = PYTHON_DOCS.eval();
        Map<String, Path> models = new LinkedHashMap<>();
        Map<String, Double> seconds = new LinkedHashMap<>();
        models.put("fp32", fp32);
        models.put(QUANTIZED_BY_ORT, ReferenceModels.minilmQuantized());
        for (String recipe : MINILM_RECIPES) {
            long start = System.nanoTime();
            Path model = runFirstStage(recipe, fp32, List.of(PYTHON_DOCS.calibration()), tokenizer, work.resolve(recipe));
            seconds.put(recipe, (System.nanoTime() - start) / 1e9);
            models.put("ModelPress " + recipe, model);
        }
        Map<String, Timing[]> latency = new LinkedHashMap<>();
        models.keySet().forEach(k -> latency.put(k, new Timing[4]));
        int column = 0;
        for (int threads : withLatency ? new int[] {1, 2} : new int[0]) {
            for (int[] shape : new int[][] {{32, 128}, {1, 32}}) {
                Map<String, HostArray> feeds = tokenFeeds(tokenizer, eval, shape[0], shape[1]);
                Map<String, Timing> times = time(models, feeds, threads, runs, sessions, QUANTIZED_BY_ORT);
                for (var e : times.entrySet()) {
                    latency.get(e.getKey())[column] = e.getValue();
                }
                column++;
            }
        }
        long fp32Bytes = OnnxModel.fileBytes(fp32);
        StringBuilder md = new StringBuilder("## all-MiniLM-L6-v2 (sentence embeddings)\n\n")
                .append("Cosine: mean-pooled embeddings vs fp32 on the 640 sentences of examples/data/sentences-eval.jsonl "
                        + "(calibration on the disjoint sentences-calib.jsonl).")
                .append(withLatency ? " Latency: median ms (median ratio to the -q baseline in the same round); with 1 "
                        + "thread also the ratio of the calling thread's CPU time.\n\n" : "\n\n")
                .append("| model | bytes | of fp32 | made in | cosine mean | cosine min |")
                .append(withLatency ? " 1 thread 32x128 | 1 thread 1x32 | 2 threads 32x128 | 2 threads 1x32 |\n" : "\n")
                .append("|---|---|---|---|---|---|").append(withLatency ? "---|---|---|---|\n" : "\n");
        for (var e : models.entrySet()) {
            EvaluationReport.Spread cosine = cosine(e.getValue(), fp32, eval, tokenizer);
            long bytes = OnnxModel.fileBytes(e.getValue());
            String recipe = e.getKey().replace("ModelPress ", "");
            md.append(String.format(Locale.ROOT, "| %s | %,d | %.1f%% | %s | %.5f | %.5f |", e.getKey(), bytes,
                    100.0 * bytes / fp32Bytes, seconds.containsKey(recipe) ? String.format(Locale.ROOT, "%.1f s", seconds.get(recipe)) : "-",
                    cosine.mean(), cosine.worst()));
            if (withLatency) {
                Timing[] t = latency.get(e.getKey());
                md.append(String.format(Locale.ROOT, " %s | %s | %s | %s |", t[0].cell(true), t[1].cell(true), t[2].cell(false), t[3].cell(false)));
            }
            md.append('\n');
        }
        md.append('\n');
        return md.append(calibrationText(work, fp32, tokenizer, models)).toString();
    }

    /**
     * The cosines again with calibration and evaluation text crossed: each kind of text calibrates the models and
     * both are evaluated on, and a third calibration has no data at all. The models calibrated on
     * {@link #PYTHON_DOCS} are the table's above; ONNX Runtime's -q release takes no calibration.
     */
    private static String calibrationText(Path work, Path fp32, Path tokenizer, Map<String, Path> calibratedOnPythonDocs) throws IOException {
        Map<String, List<Path>> calibrations = new LinkedHashMap<>();
        TEXT_SOURCES.forEach(s -> calibrations.put(s.label(), List.of(s.calibration())));
        calibrations.put("none", List.of());
        Map<String, List<String>> rows = new LinkedHashMap<>();
        rows.put(QUANTIZED_BY_ORT, new ArrayList<>());
        MINILM_RECIPES.forEach(recipe -> rows.put("ModelPress " + recipe, new ArrayList<>()));
        StringBuilder header = new StringBuilder("| model |");
        for (var calibration : calibrations.entrySet()) {
            boolean none = calibration.getValue().isEmpty();
            Map<String, Path> models = new LinkedHashMap<>();
            for (String recipe : MINILM_RECIPES) {
                models.put("ModelPress " + recipe, calibration.getKey().equals(PYTHON_DOCS.label())
                        ? calibratedOnPythonDocs.get("ModelPress " + recipe)
                        : runFirstStage(recipe, fp32, calibration.getValue(), tokenizer, work.resolve(recipe + "-calibration-" + calibration.getKey())));
            }
            for (TextSource eval : TEXT_SOURCES) {
                header.append(none ? " no calibration data" : " calibrated on " + calibration.getKey())
                        .append(", evaluated on ").append(eval.label()).append(" |");
                rows.get(QUANTIZED_BY_ORT).add(none ? cosineCell(cosine(ReferenceModels.minilmQuantized(), fp32, eval.eval(), tokenizer)) : "-");
                for (var model : models.entrySet()) {
                    rows.get(model.getKey()).add(cosineCell(cosine(model.getValue(), fp32, eval.eval(), tokenizer)));
                }
            }
        }
        StringBuilder md = new StringBuilder("### Calibration text and evaluation text of different kinds\n\n")
                .append("Cosine mean / min to fp32, as above, for every pairing of calibration text and evaluation text; ")
                .append(TEXT_SOURCES.stream().map(TextSource::describe).collect(java.util.stream.Collectors.joining("; ")))
                .append(". Calibration and evaluation files never share a sentence. Recipes that read no data give the same "
                        + "model whatever the calibration; ONNX Runtime's -q release was made without calibration.\n\n")
                .append(header).append('\n').append("|---".repeat(1 + calibrations.size() * TEXT_SOURCES.size())).append("|\n");
        rows.forEach((name, cells) -> md.append("| ").append(name).append(" | ").append(String.join(" | ", cells)).append(" |\n"));
        return md.append('\n').toString();
    }

    static EvaluationReport.Spread cosine(Path model, Path fp32, Path sentences, Path tokenizer) {
        EvaluationReport r = Evaluator.run(EvaluationRequest.of(model, sentences).withReference(fp32)
                .withDataOptions(DataOptions.DEFAULT.withTokenizer(tokenizer)).withLatencyBudget(Duration.ZERO)
                .withSession(SessionSettings.DEFAULT.withThreads(2)));
        return r.outputs().values().iterator().next().cosine();
    }

    private static String cosineCell(EvaluationReport.Spread cosine) {
        return String.format(Locale.ROOT, "%.5f / %.5f", cosine.mean(), cosine.worst());
    }

    /** Rows of exactly {@code tokens} real tokens (consecutive sentences of the file), mask all ones. */
    static Map<String, HostArray> tokenFeeds(Path tokenizerFile, Path sentences, int batch, int tokens) throws IOException {
        List<Long> stream = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(tokenizerFile, Map.of("addSpecialTokens", "false"))) {
            for (String line : Files.readAllLines(sentences)) {
                Encoding encoding = tokenizer.encode(json.readTree(line).get("text").asText());
                Arrays.stream(encoding.getIds()).forEach(stream::add);
                if (stream.size() > batch * tokens) {
                    break;
                }
            }
        }
        long[] ids = new long[batch * tokens];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = stream.get(i % stream.size());
        }
        long[] ones = new long[ids.length];
        Arrays.fill(ones, 1);
        Map<String, HostArray> feeds = new LinkedHashMap<>();
        feeds.put("input_ids", HostArray.of(ids, batch, tokens));
        feeds.put("attention_mask", HostArray.of(ones, batch, tokens));
        feeds.put("token_type_ids", HostArray.of(new long[ids.length], batch, tokens));
        return feeds;
    }

    // ------------------------------------------------------------------------------------------------ CNN

    private static String cnn(Path work, int runs, int sessions, boolean withLatency) throws Exception {
        if (!FashionMnist.isPresent(FashionMnist.DEFAULT_DIR)) {
            return "## Fashion-MNIST CNN\n\nSkipped: " + FashionMnist.INSTALL_HINT + "\n\n";
        }
        Path fp32 = FashionMnistTeacher.trainOrLoad(FashionMnistTeacher.defaultCacheDir());
        long start = System.nanoTime();
        Path int8 = runFirstStage("int8-static", fp32, List.of(FashionMnist.DEFAULT_DIR), null, work.resolve("int8-static"));
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Path> models = new LinkedHashMap<>();
        models.put("fp32 (baseline)", fp32);
        models.put("ModelPress int8-static", int8);
        Map<String, Timing[]> latency = new LinkedHashMap<>();
        models.keySet().forEach(k -> latency.put(k, new Timing[4]));
        int column = 0;
        for (int threads : withLatency ? new int[] {1, 2} : new int[0]) {
            for (int batch : new int[] {32, 1}) {
                Map<String, HostArray> feeds = imageFeeds(fp32, batch);
                Map<String, Timing> times = time(models, feeds, threads, runs * 5, sessions, "fp32 (baseline)");
                for (var e : times.entrySet()) {
                    latency.get(e.getKey())[column] = e.getValue();
                }
                column++;
            }
        }
        long fp32Bytes = OnnxModel.fileBytes(fp32);
        StringBuilder md = new StringBuilder("## Fashion-MNIST CNN teacher (examples/)\n\n")
                .append("Top-1 on the 10,000 test images (calibration on the training images).")
                .append(withLatency ? " Latency: median ms (median ratio to fp32 in the same round: below 1 is faster); "
                        + "with 1 thread also the CPU-time ratio.\n\n" : "\n\n")
                .append("| model | bytes | of fp32 | made in | top-1 | agreement with fp32 |")
                .append(withLatency ? " 1 thread batch 32 | 1 thread batch 1 | 2 threads batch 32 | 2 threads batch 1 |\n" : "\n")
                .append("|---|---|---|---|---|---|").append(withLatency ? "---|---|---|---|\n" : "\n");
        for (var e : models.entrySet()) {
            EvaluationReport r = Evaluator.run(EvaluationRequest.of(e.getValue(), FashionMnist.DEFAULT_DIR).withReference(fp32)
                    .withLatencyBudget(Duration.ZERO).withSession(SessionSettings.DEFAULT.withThreads(2)));
            long bytes = OnnxModel.fileBytes(e.getValue());
            md.append(String.format(Locale.ROOT, "| %s | %,d | %.1f%% | %s | %.2f%% | %.2f%% |", e.getKey(), bytes,
                    100.0 * bytes / fp32Bytes, e.getKey().contains("int8") ? String.format(Locale.ROOT, "%.1f s", seconds) : "-",
                    100 * r.accuracy(), 100 * r.agreement()));
            if (withLatency) {
                Timing[] t = latency.get(e.getKey());
                md.append(String.format(Locale.ROOT, " %s | %s | %s | %s |", t[0].cell(true), t[1].cell(true), t[2].cell(false), t[3].cell(false)));
            }
            md.append('\n');
        }
        return md.append('\n').toString();
    }

    static Map<String, HostArray> imageFeeds(Path model, int batch) {
        try (ModelSession session = ModelSession.open(model, SessionSettings.DEFAULT.withThreads(1));
             Dataset data = Datasets.open(FashionMnist.DEFAULT_DIR, session.inputs(), DataOptions.DEFAULT.withSplit("test"))) {
            Batch first = data.next(batch);
            return first.inputs();
        }
    }

    // ------------------------------------------------------------------------------------------------ calibration memory

    /** Heap the calibration child JVMs get: far below what keeping activations would need. */
    static final String PROBE_HEAP = "-Xmx64m";

    private static String calibrationMemory(Path work) throws Exception {
        if (!FashionMnist.isPresent(FashionMnist.DEFAULT_DIR)) {
            return "";
        }
        Path fp32 = FashionMnistTeacher.trainOrLoad(FashionMnistTeacher.defaultCacheDir());
        StringBuilder md = new StringBuilder("## Static calibration memory\n\n")
                .append("Static quantization of the CNN teacher in a child JVM limited to ").append(PROBE_HEAP.substring(4, PROBE_HEAP.length() - 1))
                .append(" MiB of heap, by the number of calibration samples; the live heap is the most in use right after a "
                        + "garbage collection. Calibration keeps histograms, not activations: 16,384 samples' activations alone "
                        + "would need about ").append(String.format(Locale.ROOT, "%.0f", 16384.0 * (28 * 28 * 32 + 14 * 14 * 64) * 4 / (1 << 20)))
                .append(" MiB.\n\n| calibration samples | time | live heap (max after GC) |\n|---|---|---|\n");
        for (int samples : new int[] {256, 4096, 16384}) {
            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), PROBE_HEAP,
                    "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"), CalibrationProbe.class.getName(),
                    fp32.toString(), Integer.toString(samples), work.resolve("probe-" + samples).toString())
                    .redirectErrorStream(true).start();
            String output = new String(child.getInputStream().readAllBytes());
            String result = output.lines().filter(l -> l.startsWith("probe ")).findFirst().orElse(null);
            if (child.waitFor() != 0 || result == null) {
                md.append(String.format(Locale.ROOT, "| %,d | failed | %s |%n", samples,
                        output.contains("OutOfMemoryError") ? "out of memory" : "exit " + child.exitValue()));
                continue;
            }
            String[] parts = result.split(" ");
            md.append(String.format(Locale.ROOT, "| %,d | %.1f s | %.1f MiB |%n", samples, Double.parseDouble(parts[1]),
                    Long.parseLong(parts[2]) / (1024.0 * 1024)));
        }
        return md.append('\n').toString();
    }

    /** Child JVM: quantizes statically and prints "probe SECONDS MAX_LIVE_HEAP_BYTES". */
    public static final class CalibrationProbe {
        public static void main(String[] args) throws Exception {
            AtomicLong maxLive = new AtomicLong();
            for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                ((javax.management.NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
                    if (notification.getType().equals(com.sun.management.GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                        var info = com.sun.management.GarbageCollectionNotificationInfo.from(
                                (javax.management.openmbean.CompositeData) notification.getUserData());
                        long used = info.getGcInfo().getMemoryUsageAfterGc().values().stream().mapToLong(u -> u.getUsed()).sum();
                        maxLive.accumulateAndGet(used, Math::max);
                    }
                }, null, null);
            }
            String yaml = "stages:\n  - quantize: { mode: static, calibration_samples: " + args[1] + " }\n";
            StageSpec spec = RecipeParser.parse(yaml, "calibration.yaml").stages().get(0);
            long start = System.nanoTime();
            runStage(spec, Path.of(args[0]), List.of(FashionMnist.DEFAULT_DIR), null, Path.of(args[2]));
            double seconds = (System.nanoTime() - start) / 1e9;
            System.gc();
            Thread.sleep(200);
            System.out.println("probe " + seconds + " " + Math.max(maxLive.get(), heapUsed()));
        }
    }

    private static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    // ------------------------------------------------------------------------------------------------ shared

    /** Runs the first stage of a built-in recipe, as the CLI and the workers do; returns the output model. */
    static Path runFirstStage(String recipe, Path model, List<Path> data, Path tokenizer, Path dir) throws IOException {
        return runStage(Recipes.builtIn(recipe).stages().get(0), model, data, tokenizer, dir);
    }

    private static Path runStage(StageSpec spec, Path model, List<Path> data, Path tokenizer, Path dir) throws IOException {
        Files.createDirectories(dir);
        StageOutcome outcome = Stages.forType(spec.type()).run(new StageContext(spec, model, model, data, tokenizer, dir,
                Runtime.getRuntime().availableProcessors(), null));
        return outcome.model();
    }

    /**
     * Times every model on the same feeds with the method evaluation reports use ({@link InterleavedTiming}): here
     * one block of {@code sessionsPerModel} sessions per model, all taking turns in a shuffled order each round, a
     * model's time in a round the mean over its sessions, garbage collected between rounds.
     */
    private static Map<String, Timing> time(Map<String, Path> models, Map<String, HostArray> feeds, int threads, int rounds,
                                            int sessionsPerModel, String baseline) {
        List<InterleavedTiming.Contender> contenders = new ArrayList<>();
        models.forEach((name, path) -> contenders.add(new InterleavedTiming.Contender(name, path, List.of(feeds))));
        InterleavedTiming.Result measured = InterleavedTiming.run(contenders,
                InterleavedTiming.Plan.fixed(SessionSettings.DEFAULT.withThreads(threads), sessionsPerModel, rounds, 10));
        InterleavedTiming.Samples base = measured.of(baseline, 0);
        Map<String, Timing> result = new LinkedHashMap<>();
        for (String name : models.keySet()) {
            InterleavedTiming.Samples s = measured.of(name, 0);
            result.put(name, new Timing(s.medianMs(), s.medianRatioTo(base), s.medianCpuMs(), s.medianCpuRatioTo(base)));
        }
        return result;
    }
}
