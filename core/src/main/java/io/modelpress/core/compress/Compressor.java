package io.modelpress.core.compress;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.Sha256;
import io.modelpress.core.TempFiles;
import io.modelpress.core.cache.StageCache;
import io.modelpress.core.cache.StageKey;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.stage.ProgressListener;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.tune.Candidates;
import io.modelpress.core.tune.Candidates.Candidate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a recipe's stages in-process, one after another, the way the pipeline runs them across workers: each stage
 * gets the previous stage's model, the original model and the data. A recipe without an eval stage gets a final
 * evaluation appended ({@link Recipes#withFinalEvaluation}, as in the pipeline). Writes {@code model.onnx} (plus
 * external data if any), {@code report.json} and {@code report.html} (see {@link RunReport}) to the output folder.
 * A failed quality gate does not stop the run: the outputs are written and the report says which gate failed.
 *
 * <p>A recipe that tunes ({@code tuning: on_gate_failure: tune}) and misses its gate tries the gentler candidates of
 * {@link Candidates} in turn, within {@code max_attempts} and the time budget, reusing the models of stages whose
 * settings an earlier candidate shared; the output is the chosen candidate ({@link RunReport.Tuning#of}) and every
 * candidate's model is kept under {@code candidates/NN/} in the output folder.
 */
public final class Compressor {
    /** Stage listener for the CLI: which stage, and how far. */
    public interface Listener {
        void stageStarted(StageSpec stage, int count);

        void progress(StageSpec stage, double fraction, String message);

        void stageFinished(StageSpec stage, StageOutcome outcome, Duration took);

        /** Tuning tries another candidate (the recipe's own, number 1, is not announced). */
        default void candidateStarted(Candidate candidate, int count) {
        }
    }

    /**
     * @param hints   shapes and constant values for model inputs (the CLI's --shape/--value), handed to every stage
     * @param student a model to start from instead of {@code model} (null: none): the stages work on it, while
     *                {@code model} stays the original - the teacher of distill, the reference of eval
     */
    public record Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads, InputHints hints,
                          Path student, StageCache cache) {
        public Request {
            data = List.copyOf(data);
            hints = hints == null ? InputHints.NONE : hints;
        }

        public Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads, InputHints hints,
                       Path student) {
            this(model, recipe, data, tokenizer, outDir, threads, hints, student, null);
        }

        public Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads, InputHints hints) {
            this(model, recipe, data, tokenizer, outDir, threads, hints, null);
        }

        public Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads) {
            this(model, recipe, data, tokenizer, outDir, threads, InputHints.NONE, null);
        }

        public Request withStudent(Path value) {
            return new Request(model, recipe, data, tokenizer, outDir, threads, hints, value, cache);
        }

        /** Stage results are taken from and kept in this cache (null: none), unless the recipe says {@code cache: false}. */
        public Request withCache(StageCache value) {
            return new Request(model, recipe, data, tokenizer, outDir, threads, hints, student, value);
        }
    }

    /**
     * @param model      the output model
     * @param reportFile the report.json written beside it (report.html is beside it too)
     */
    public record Result(Path model, Path reportFile, RunReport report) {
        /** The first failed quality gate as "label: why", or null (none failed, or the recipe sets none). */
        public String gateFailure() {
            return report.gateFailure();
        }

        /** The report as report.json holds it. */
        public ObjectNode json() {
            return RunReports.toTree(report);
        }
    }

    private Compressor() {
    }

    public static Result run(Request request, Listener listener) {
        // fail fast, before any work, on a model that cannot be used
        OnnxModel original = OnnxModel.read(request.model());
        if (request.student() != null) {
            checkStudent(original, OnnxModel.read(request.student()), request.student().toString());
        }
        Path work = TempFiles.createDirectory("modelpress-compress-");
        try {
            Files.createDirectories(request.outDir());
            Instant started = Instant.now();
            Recipe plan = Recipes.withFinalEvaluation(request.recipe());
            Recipe.Tuning tuning = plan.tuning();
            List<Candidate> candidates = Candidates.of(plan, Stages.registry());
            Instant deadline = started.plus(tuning.timeBudget());
            Runner runner = new Runner(request, listener, plan, work);
            List<RunReport.Candidate> tried = new ArrayList<>();
            List<Path> models = new ArrayList<>();
            String stoppedBy = RunReport.Tuning.ALL_TRIED;
            Duration slowest = Duration.ZERO;
            for (Candidate candidate : candidates) {
                if (candidate.number() > 1) {
                    boolean passed = tried.stream().anyMatch(c -> !RunReport.FAILED.equals(c.gate()));
                    if (passed && (candidate.number() == 2 || Candidates.stopsAtFirstPass(tuning.strategy()))) {
                        stoppedBy = RunReport.Tuning.PASSED_STOP;
                        break;
                    }
                    // a candidate is not started when one like the slowest so far would end past the budget
                    if (Instant.now().plus(slowest).isAfter(deadline)) {
                        stoppedBy = RunReport.Tuning.TIME_BUDGET;
                        break;
                    }
                    listener.candidateStarted(candidate, candidates.size());
                }
                Instant candidateStart = Instant.now();
                RunReport.Candidate result = runner.run(candidate);
                Duration took = Duration.between(candidateStart, Instant.now());
                slowest = took.compareTo(slowest) > 0 ? took : slowest;
                tried.add(result);
                models.add(runner.lastModel);
            }
            if (Candidates.stopsAtFirstPass(tuning.strategy()) && tried.stream().anyMatch(c -> !RunReport.FAILED.equals(c.gate()))) {
                stoppedBy = RunReport.Tuning.PASSED_STOP; // also when the passing one was the last candidate
            }
            // a run that did not tune (its recipe's own candidate passed, or the recipe does not tune) has no tuning section
            boolean tuned = candidates.size() > 1 && RunReport.FAILED.equals(tried.get(0).gate());
            RunReport.Tuning tuningReport = !tuned ? null : RunReport.Tuning.of(tuning.strategy(), tuning.maxAttempts(),
                    tuning.timeBudget().toString(), stoppedBy, tried);
            int chosen = tuningReport == null ? 0 : tuningReport.chosen() - 1;
            if (tuningReport != null) {
                tried = keepCandidates(tuningReport.candidates(), models, request.outDir());
                tuningReport = new RunReport.Tuning(tuningReport.strategy(), tuningReport.maxAttempts(), tuningReport.timeBudget(),
                        tuningReport.outcome(), tuningReport.chosen(), tuningReport.stoppedBy(), tried);
            }
            Path outModel = request.outDir().resolve("model.onnx");
            OnnxModel.read(models.get(chosen)).write(outModel);
            List<RunReport.Stage> stages = tried.get(chosen).stages();
            RunReport.Run run = new RunReport.Run(RunReport.LOCAL_RUN, name(request.model()), "cli",
                    stages.stream().anyMatch(s -> s.error() != null) ? RunReport.FAILED_STATE : RunReport.SUCCEEDED_STATE,
                    failure(stages, tuningReport));
            RunReport.RecipeRef recipe = new RunReport.RecipeRef(request.recipe().name(), recipeSource(request.recipe()),
                    request.recipe().source());
            RunReport report = RunReport.assemble(run, recipe, modelRef(request.model()), modelRef(outModel), stages, started,
                    Instant.now(), tuningReport);
            RunReports.writeFiles(report, request.outDir());
            return new Result(outModel, request.outDir().resolve(RunReports.JSON_FILE), report);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, request.outDir().toString(), "cannot be written: " + e.getMessage(), e);
        } finally {
            TempFiles.deleteTree(work);
        }
    }

    /** Why the run failed, worded as the pipeline words a failed stage, or null; in-process the later stages still run. */
    private static String failure(List<RunReport.Stage> stages, RunReport.Tuning tuning) {
        String error = stages.stream().filter(s -> s.error() != null).findFirst()
                .map(s -> "stage " + s.index() + " (" + s.type() + ") failed: " + s.error().code() + ": " + s.error().message())
                .orElse(null);
        if (error != null && tuning != null) {
            error = RunReport.Tuning.GOAL_NOT_MET + ": none of the " + tuning.candidates().size() + " candidates passed its gate ("
                    + tuning.stoppedBy() + "); the output is candidate " + tuning.chosen() + ", the closest: " + error;
        }
        return error;
    }

    /** Every candidate's model kept as candidates/NN/model.onnx in the output folder, its entry pointing there. */
    private static List<RunReport.Candidate> keepCandidates(List<RunReport.Candidate> candidates, List<Path> models, Path outDir)
            throws IOException {
        List<RunReport.Candidate> kept = new ArrayList<>();
        for (int i = 0; i < candidates.size(); i++) {
            RunReport.Candidate c = candidates.get(i);
            Path file = Files.createDirectories(outDir.resolve("candidates").resolve(String.format("%02d", c.number())))
                    .resolve("model.onnx");
            OnnxModel.read(models.get(i)).write(file);
            kept.add(new RunReport.Candidate(c.number(), c.changes(), c.reusedStages(), c.stages(), modelRef(file), c.gate(),
                    c.gateFailure(), c.shortfall(), c.qualityMetric(), c.quality(), c.latencyRatio(), c.durationMs(), c.pareto(),
                    c.chosen()));
        }
        return kept;
    }

    /**
     * Runs candidates' stages, each stage once per distinct settings: a candidate whose first stages have the settings
     * of an earlier candidate's starts from that candidate's models (pruned once, quantized three ways).
     */
    private static final class Runner {
        private record Done(Path model, RunReport.Stage entry) {
        }

        private final Request request;
        private final StageCache cache;
        private final Listener listener;
        private final int ownStages;
        private final Path work;
        private final InputHints hints;
        private final Map<List<StageSpec>, Done> done = new HashMap<>();
        /** The last candidate's final model. */
        Path lastModel;

        /** A stage's result from the cache, its model copied into the stage's folder; null when there is none. */
        private StageOutcome cached(String key, Path input, StageContext context) {
            StageCache.Entry entry = cache.get(key).orElse(null);
            if (entry == null) {
                return null;
            }
            Path model = input;
            if (entry.model() != null) {
                model = context.outputModel();
                OnnxModel.read(entry.model()).write(model);
            }
            context.progress().progress(1.0, "from the result cache");
            return new StageOutcome(model, entry.report(), entry.gateFailure());
        }

        Runner(Request request, Listener listener, Recipe plan, Path work) {
            this.cache = plan.cache() ? request.cache() : null;
            this.request = request;
            this.listener = listener;
            this.ownStages = request.recipe().stages().size();
            this.work = work;
            this.hints = StageContext.hintsOf(plan.stages(), request.hints());
        }

        RunReport.Candidate run(Candidate candidate) throws IOException {
            Path current = request.student() != null ? request.student() : request.model();
            List<RunReport.Stage> stages = new ArrayList<>();
            int reused = 0;
            for (StageSpec spec : candidate.stages()) {
                List<StageSpec> settings = candidate.stages().subList(0, spec.index() + 1);
                Done earlier = done.get(settings);
                if (earlier != null) {
                    reused++;
                    stages.add(earlier.entry());
                    current = earlier.model();
                    continue;
                }
                listener.stageStarted(spec, candidate.stages().size());
                Path stageDir = Files.createDirectories(work.resolve(String.format("%02d", candidate.number())).resolve(spec.label()));
                ProgressListener progress = (fraction, message) -> listener.progress(spec, fraction, message);
                StageContext context = new StageContext(spec, current, request.model(), request.data(), request.tokenizer(),
                        stageDir, request.threads(), progress, hints);
                Instant start = Instant.now();
                Stage stage = Stages.forType(spec.type());
                String key = cache == null ? null : StageKey.of(spec, stage.getClass(), current, request.model(), request.data(),
                        request.tokenizer(), hints);
                StageOutcome outcome = key == null ? null : cached(key, current, context);
                String cacheUse = outcome != null ? RunReport.CACHE_HIT : key != null ? RunReport.CACHE_STORED : null;
                if (outcome == null) {
                    outcome = stage.run(context);
                    if (key != null) {
                        cache.put(key, outcome, current);
                    }
                }
                Instant end = Instant.now();
                listener.stageFinished(spec, outcome, Duration.between(start, end));
                RunReport.StageError error = outcome.gatePassed() ? null
                        : new RunReport.StageError(ErrorCode.GATE_FAILED.name(), outcome.gateFailure());
                RunReport.Stage entry = RunReport.Stage.of(spec.index(), spec.type(), spec.index() >= ownStages,
                        outcome.gatePassed() ? RunReport.SUCCEEDED_STATE : RunReport.FAILED_STATE, 1, start, end, null, null,
                        error, outcome.report()).withCache(cacheUse);
                stages.add(entry);
                done.put(List.copyOf(settings), new Done(outcome.model(), entry));
                current = outcome.model();
            }
            lastModel = current;
            return RunReport.Candidate.of(candidate.number(), candidate.changes(), reused, stages,
                    new RunReport.ModelRef(current.toString(), OnnxModel.fileBytes(current), null));
        }
    }

    /**
     * A student stands in for the model: it must take the same inputs and give the same outputs, by name.
     *
     * @param where the student's name in the message (its file, key or upload name)
     * @throws ModelPressException DATA_MISMATCH naming the inputs or outputs that differ
     */
    public static void checkStudent(OnnxModel model, OnnxModel student, String where) {
        for (String side : List.of("inputs", "outputs")) {
            boolean inputs = side.equals("inputs");
            java.util.Set<String> expected = names(inputs ? model.inputs() : model.outputs());
            java.util.Set<String> actual = names(inputs ? student.inputs() : student.outputs());
            if (!expected.equals(actual)) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "student " + where, "has " + side + " " + actual
                        + " where the model has " + expected + "; a student must take the model's inputs and give its outputs, by name");
            }
        }
    }

    private static java.util.Set<String> names(List<io.modelpress.core.onnx.ValueShape> values) {
        return values.stream().map(io.modelpress.core.onnx.ValueShape::name).collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
    }

    /** The model's file name without ".onnx". */
    private static String name(Path model) {
        String file = model.getFileName().toString();
        return file.endsWith(".onnx") ? file.substring(0, file.length() - ".onnx".length()) : file;
    }

    /** "built-in:&lt;name&gt;" for a built-in recipe's own text, else "file". */
    private static String recipeSource(Recipe recipe) {
        return Recipes.BUILT_IN.contains(recipe.name()) && Recipes.builtInText(recipe.name()).equals(recipe.source())
                ? "built-in:" + recipe.name() : "file";
    }

    private static RunReport.ModelRef modelRef(Path model) {
        return new RunReport.ModelRef(model.toAbsolutePath().normalize().toString(), OnnxModel.fileBytes(model), sha256(model));
    }

    private static String sha256(Path file) {
        try {
            return Sha256.of(file);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be read: " + e.getMessage(), e);
        }
    }
}
