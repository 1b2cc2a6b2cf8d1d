package io.modelpress.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.TempFiles;
import io.modelpress.core.cache.StageCache;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.tune.Candidates;
import io.modelpress.examples.fashion.FashionMnist;
import io.modelpress.examples.fashion.FashionMnistTeacher;
import io.modelpress.examples.fashion.SqueezeExciteCnn;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Accuracy-aware tuning ({@code tuning: on_gate_failure: tune}) through {@code modelpress compress}'s compressor on
 * the Fashion-MNIST CNNs, evaluated on the 10,000 test images: the static INT8 case where the recipe's own candidate
 * misses {@code max_accuracy_drop: 0.1}, tuned by fallback, backoff and search, a goal no candidate can meet, and the
 * result cache (the same recipe twice, then a changed parameter).
 * Writes bench/results/tuning.md.
 *
 * <pre>java -jar bench/target/modelpress-bench.jar TuningBench [--out FILE]</pre>
 */
public final class TuningBench {
    private static final String STATIC_GATE = """
            name: int8-static-tuned
            stages:
              - quantize: { mode: static }
              - eval:
                  metrics: [accuracy, agreement, latency, size]
                  samples: 10000
                  gate: { max_accuracy_drop: 0.1 }
            tuning: { on_gate_failure: tune, strategy: %s, max_attempts: %d, time_budget: %s }
            """;

    private TuningBench() {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of("bench", "results", "tuning.md");
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out")) {
                out = Path.of(args[++i]);
            } else {
                throw new IllegalArgumentException("unknown option " + args[i] + " (options: --out FILE)");
            }
        }
        System.setProperty("ai.djl.offline", "true");
        StringBuilder md = new StringBuilder("# Accuracy-aware tuning\n\n")
                .append("Measured ").append(Machine.date()).append(" on ").append(Machine.describe()).append(", ONNX Runtime ")
                .append(ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion()).append(".\n")
                .append("Command: `./mvnw -q -pl bench -am package -DskipTests && java -jar bench/target/modelpress-bench.jar TuningBench`\n\n")
                .append("Each case is one `modelpress compress` run (in-process compressor, 2 threads) of the recipe shown, on the "
                        + "Fashion-MNIST dataset folder (calibration: its train split; evaluation: the 10,000 test images). "
                        + "Accuracy is the top-1 change in points against the fp32 model on the same images; latency is the "
                        + "evaluation's batch-32 time ratio to the fp32 model (below 1 is faster; these tiny CNNs run in about 1 ms, "
                        + "so the ratios are noisy). Duration: the candidate's own stages (stages it shares with an earlier "
                        + "candidate are reused, not run again).\n\n");
        System.out.print(md);
        if (!FashionMnist.isPresent(FashionMnist.DEFAULT_DIR)) {
            Results.printAndAppend(md, "Skipped: " + FashionMnist.INSTALL_HINT + "\n");
            Results.write(out, md);
            return;
        }
        Path cache = FashionMnistTeacher.defaultCacheDir();
        Path se = SqueezeExciteCnn.trainOrLoad(cache);
        Path teacher = FashionMnistTeacher.trainOrLoad(cache);
        Path work = TempFiles.createDirectory("modelpress-tunebench-");
        try {
            Results.printAndAppend(md, tuningCase("Depthwise squeeze-excite CNN, static INT8, fallback (the acceptance case)",
                    se, String.format(Locale.ROOT, STATIC_GATE, "fallback", 6, "20m"), work.resolve("fallback")));
            Results.printAndAppend(md, tuningCase("The same, backoff", se,
                    String.format(Locale.ROOT, STATIC_GATE, "backoff", 6, "20m"), work.resolve("backoff")));
            Results.printAndAppend(md, tuningCase("The same, search (calibration x keep_float)", se,
                    String.format(Locale.ROOT, STATIC_GATE, "search", 8, "20m"), work.resolve("search")));
            Results.printAndAppend(md, tuningCase("A goal no candidate can meet: the CNN teacher at no accuracy lost and 4.5x "
                    + "smaller, fallback, 2 minutes", teacher, """
                    name: impossible
                    stages:
                      - quantize: { mode: static }
                      - eval:
                          metrics: [accuracy, agreement, latency, size]
                          samples: 10000
                          gate: { max_accuracy_drop: 0.0, min_compression_ratio: 4.5 }
                    tuning: { on_gate_failure: tune, strategy: fallback, max_attempts: 20, time_budget: 2m }
                    """, work.resolve("impossible")));
            Results.printAndAppend(md, cacheCase(teacher, work));
        } finally {
            TempFiles.deleteTree(work);
        }
        Results.write(out, md);
    }

    private static String tuningCase(String title, Path model, String recipe, Path outDir) {
        long start = System.nanoTime();
        Compressor.Result result = Compressor.run(new Compressor.Request(model, RecipeParser.parse(recipe, "recipe.yaml"),
                List.of(FashionMnist.DEFAULT_DIR), null, outDir, 2), PROGRESS);
        double seconds = (System.nanoTime() - start) / 1e9;
        RunReport report = result.report();
        StringBuilder md = new StringBuilder("## ").append(title).append("\n\nModel: ").append(model.getFileName())
                .append(". Recipe:\n\n```yaml\n").append(recipe).append("```\n\n");
        RunReport.Tuning tuning = report.tuning();
        if (tuning == null) {
            return md.append(String.format(Locale.ROOT, "The recipe's own candidate passed its gate (%s); nothing to tune. %.1f s.%n%n",
                    report.gate(), seconds)).toString();
        }
        md.append("| candidate | changes | bytes | accuracy (points) | latency | gate | Pareto | duration |\n|---|---|---|---|---|---|---|---|\n");
        for (RunReport.Candidate c : tuning.candidates()) {
            md.append(String.format(Locale.ROOT, "| %s%d%s | %s | %,d | %s | %s | %s | %s | %.1f s |%n", c.chosen() ? "**" : "", c.number(),
                    c.chosen() ? " (chosen)**" : "", c.changes().isEmpty() ? "the recipe's own" : String.join("; ", c.changes()),
                    c.output().bytes(), c.quality() == null ? "-" : String.format(Locale.ROOT, "%+.2f", 100 * c.quality()),
                    c.latencyRatio() == null ? "-" : String.format(Locale.ROOT, "%.2fx", c.latencyRatio()),
                    c.gate() + (c.gateFailure() == null ? "" : ": " + c.gateFailure().replace("|", "/")),
                    c.pareto() ? "yes" : "", c.durationMs() / 1000.0));
        }
        List<String> fellBack = new ArrayList<>();
        for (RunReport.Stage stage : tuning.chosenCandidate().stages()) {
            for (JsonNode node : stage.report() == null ? List.<JsonNode>of() : iterable(stage.report().path("nodes"))) {
                if (node.path("reason").asText().startsWith("kept in float")) {
                    fellBack.add("`" + node.path("node").asText() + "` (" + node.path("op").asText() + ")");
                }
            }
        }
        md.append(String.format(Locale.ROOT, "%nOutcome: **%s** - %s; %d candidate%s in %.1f s (time budget %s, %s). Model size "
                        + "%,d -> %,d bytes.%s%n%n", tuning.outcome(), tuning.stoppedBy(), tuning.candidates().size(),
                tuning.candidates().size() == 1 ? "" : "s", seconds, tuning.timeBudget(),
                Candidates.stopsAtFirstPass(tuning.strategy()) ? "stops at the first pass" : "runs every candidate",
                report.size().inputBytes(), report.size().outputBytes(),
                fellBack.isEmpty() ? "" : " Kept in float in the chosen candidate: " + String.join(", ", fellBack) + "."));
        return md.toString();
    }

    /** The built-in int8-static recipe twice with one cache folder, then with a changed parameter. */
    private static String cacheCase(Path model, Path work) {
        StageCache cache = StageCache.open(work.resolve("cache"), StageCache.DEFAULT_MAX_BYTES);
        String changed = """
                stages:
                  - quantize: { mode: static, calibration: minmax }
                  - eval: { metrics: [accuracy, agreement, cosine, latency, size], gate: { min_cosine: 0.98, or: { min_agreement: 0.98, max_accuracy_drop: 1.0 } } }
                """;
        StringBuilder md = new StringBuilder("## Result cache\n\nThe built-in `int8-static` on the CNN teacher, run twice with one "
                + "cache folder (`modelpress compress --cache-dir`), then once with `calibration: minmax`:\n\n"
                + "| run | wall time | stages from the cache |\n|---|---|---|\n");
        double first = 0;
        String[][] runs = {{"first", null}, {"second, same model and recipe", null}, {"calibration changed", changed}};
        for (String[] run : runs) {
            long start = System.nanoTime();
            Compressor.Result result = Compressor.run(new Compressor.Request(model, run[1] == null ? Recipes.resolve("int8-static")
                    : RecipeParser.parse(run[1], "changed.yaml"), List.of(FashionMnist.DEFAULT_DIR), null,
                    work.resolve("cache-" + md.length()), 2).withCache(cache), PROGRESS);
            double seconds = (System.nanoTime() - start) / 1e9;
            first = first == 0 ? seconds : first;
            long hits = result.report().stages().stream().filter(st -> RunReport.CACHE_HIT.equals(st.cache())).count();
            md.append(String.format(Locale.ROOT, "| %s | %.2f s (%.1f %% of the first) | %d of %d |%n", run[0], seconds,
                    100 * seconds / first, hits, result.report().stages().size()));
        }
        return md.append("\n").toString();
    }

    private static List<JsonNode> iterable(JsonNode array) {
        List<JsonNode> list = new ArrayList<>();
        array.forEach(list::add);
        return list;
    }

    private static final Compressor.Listener PROGRESS = new Compressor.Listener() {
        public void stageStarted(StageSpec stage, int count) {
        }

        public void progress(StageSpec stage, double fraction, String message) {
        }

        public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
            System.err.printf(Locale.ROOT, "  [%s] %.1f s%s%n", stage.label(), took.toMillis() / 1000.0,
                    outcome.gatePassed() ? "" : " - gate failed: " + outcome.gateFailure());
        }

        public void candidateStarted(Candidates.Candidate candidate, int count) {
            System.err.printf("  candidate %d of %d: %s%n", candidate.number(), count, String.join("; ", candidate.changes()));
        }
    };
}
