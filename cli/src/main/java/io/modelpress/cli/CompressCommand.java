package io.modelpress.cli;

import io.modelpress.core.cache.StageCache;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.stage.StageOutcome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "compress", mixinStandardHelpOptions = true,
        description = "Run a recipe's stages in-process and write model.onnx and report.json to the output folder. "
                + "Exit code 3 when the recipe's quality gate fails (the outputs are still written).")
final class CompressCommand implements Callable<Integer> {
    static final int GATE_FAILED = 3;

    @Parameters(paramLabel = "MODEL", description = "the .onnx file to compress")
    Path model;

    @Option(names = "--recipe", paramLabel = "R", defaultValue = Recipes.DEFAULT,
            description = "a recipe file, or a built-in name: int8-dynamic (default), int8-static, int4-weight-only, fp16")
    String recipe;

    @Option(names = "--data", paramLabel = "D", description = "sample data (npz/npy, IDX, JSONL text); give two files to keep calibration (the one named *calib*) "
                    + "apart from evaluation")
    List<Path> data = new ArrayList<>();

    @Option(names = "--tokenizer", paramLabel = "TOKENIZER_JSON", description = "tokenizer.json for text data (default: beside the model)")
    Path tokenizer;

    @Option(names = "--shape", paramLabel = "NAME=DIMS", description = "shape of a model input with symbolic dimensions, for "
            + "synthetic inputs (no data), e.g. input=1x512 (repeatable; overrides the recipe's eval shape key)")
    List<String> shapes = new ArrayList<>();

    @Option(names = "--value", paramLabel = "NAME=V", description = "a constant for a model input, e.g. sr=16000: fills synthetic "
            + "inputs and inputs the data file does not hold (repeatable; overrides the recipe's eval value key)")
    List<String> values = new ArrayList<>();

    @Option(names = "--student", paramLabel = "STUDENT", description = "an ONNX model to start from instead of MODEL (same input "
            + "and output names), e.g. a smaller architecture to distill: the stages work on it, MODEL stays the teacher of "
            + "distill and the reference of eval")
    Path student;

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "keep stage results here and reuse them when a stage "
            + "meets the same model, settings, data and code again (default: $MODELPRESS_CACHE_DIR, else "
            + "~/.cache/modelpress/stages; at most 10 GiB, the least recently used results evicted first)")
    Path cacheDir;

    @Option(names = "--no-cache", description = "compute every stage and keep nothing (a recipe can say `cache: false` too)")
    boolean noCache;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "output folder")
    Path out;

    @Mixin
    ThreadsOption threads;

    @Option(names = "--json", description = "print report.json's content instead of the summary")
    boolean json;

    @Mixin
    Console console;

    @Override
    public Integer call() {
        InputHints hints = InputHints.parse(shapes, values);
        Recipe parsed = Recipes.resolve(recipe);
        PrintWriter err = console.err();
        Path tokenizerJson = tokenizer != null ? tokenizer : besideModel();
        Compressor.Result result = Compressor.run(new Compressor.Request(model, parsed, data, tokenizerJson, out, threads.count(), hints)
                        .withStudent(student).withCache(cache()),
                json ? silent() : progressTo(err));
        PrintWriter stdout = console.out();
        if (json) {
            stdout.println(RunReports.toJson(result.report()));
        } else {
            ReportPrinter.print(result.report(), stdout);
            stdout.println("report    " + result.reportFile() + " (and report.html)");
        }
        stdout.flush();
        return result.gateFailure() == null ? 0 : GATE_FAILED;
    }

    private StageCache cache() {
        if (noCache) {
            return null;
        }
        Path dir = cacheDir != null ? cacheDir : StageCache.defaultDir().orElse(null);
        return dir == null ? null : StageCache.open(dir, StageCache.DEFAULT_MAX_BYTES);
    }

    private Path besideModel() {
        Path candidate = model.toAbsolutePath().resolveSibling("tokenizer.json");
        return java.nio.file.Files.isRegularFile(candidate) ? candidate : null;
    }

    private static Compressor.Listener silent() {
        return new Compressor.Listener() {
            public void stageStarted(StageSpec stage, int count) {
            }

            public void progress(StageSpec stage, double fraction, String message) {
            }

            public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
            }
        };
    }

    private static Compressor.Listener progressTo(PrintWriter err) {
        return new Compressor.Listener() {
            public void stageStarted(StageSpec stage, int count) {
                err.printf("[%d/%d] %s ...%n", stage.index() + 1, count, stage.type());
                err.flush();
            }

            public void progress(StageSpec stage, double fraction, String message) {
            }

            public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
                err.printf(Locale.ROOT, "[%s] done in %.1f s%s%n", stage.label(), took.toMillis() / 1000.0,
                        outcome.gatePassed() ? "" : " - gate FAILED: " + outcome.gateFailure());
                err.flush();
            }

            public void candidateStarted(io.modelpress.core.tune.Candidates.Candidate candidate, int count) {
                err.printf("tuning: candidate %d of %d: %s%n", candidate.number(), count, String.join("; ", candidate.changes()));
                err.flush();
            }
        };
    }
}
