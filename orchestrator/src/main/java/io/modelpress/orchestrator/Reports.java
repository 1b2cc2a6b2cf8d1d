package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.tune.Candidates;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A finished run as core's {@link RunReport}: the run report the in-process compressor writes too, so the same
 * recipe gives the same report either way (docs/report.md). Written beside the final model as report.json and
 * report.html by {@link Outputs}. A run that tuned ({@link RunState#tuning}) gets the tuning section with every
 * candidate tried; its stages are then the chosen candidate's.
 */
final class Reports {
    private Reports() {
    }

    /** @param output the final model where it was published */
    static RunReport report(RunState run, ArtifactRef output, Instant finishedAt) {
        int ownStages = ownStages(run);
        RunReport.Tuning tuning = run.tuning() == null || !run.tuning().stopped() ? null
                : tuning(run, RunEngine.plan(run.recipeYaml(), "recipe of " + run.runId()), run.tuning().tried(), run.tuning().stoppedBy());
        RunReport report = RunReport.assemble(
                new RunReport.Run(run.runId(), run.name(), run.source(), run.state().name(), run.error()),
                new RunReport.RecipeRef(run.recipeName(), run.recipeSource(), run.recipeYaml()), ref(run.input()), ref(output),
                stages(run.stages(), ownStages), run.createdAt(), finishedAt, tuning);
        return run.student() == null ? report : withNote(report, studentNote(run.student()));
    }

    /**
     * What the report says of a run's student. The report schema (core) has no field for it, so a note names it: the
     * report's {@code input} is the model, the teacher and reference, and its size compares the output with that.
     */
    static String studentNote(ArtifactRef student) {
        RunReport.ModelRef ref = ref(student);
        return "the stages started from the student " + ref.location() + " (" + ref.bytes() + " bytes, sha256 " + ref.sha256()
                + "), not from the input; the input was the teacher of distill and the reference of eval";
    }

    private static RunReport withNote(RunReport r, String note) {
        List<String> notes = new ArrayList<>(r.notes());
        notes.add(0, note);
        return new RunReport(r.schemaVersion(), r.run(), r.recipe(), r.input(), r.output(), r.size(), r.stages(), r.evaluation(),
                r.gate(), r.gateFailure(), r.timings(), notes, r.tuning());
    }

    /** Stage entries of the report from the stages' states. */
    static List<RunReport.Stage> stages(List<StageStatus> states, int ownStages) {
        List<RunReport.Stage> stages = new ArrayList<>();
        for (StageStatus stage : states) {
            stages.add(RunReport.Stage.of(stage.index(), stage.type(), stage.index() >= ownStages, stage.status().name(),
                    stage.attempt(), stage.startedAt(), stage.finishedAt(),
                    stage.timings() == null ? null : new RunReport.WorkerTimings(stage.timings().downloadMs(),
                            stage.timings().runMs(), stage.timings().uploadMs()),
                    stage.output() == null ? null : ref(stage.output()),
                    stage.error() == null ? null : new RunReport.StageError(stage.error().code(), stage.error().message()),
                    stage.metrics()).withCache(cacheUse(stage.metrics())));
        }
        return stages;
    }

    /** The workers' result cache use a stage report carries ({@code "cache": "hit"} or {@code "stored"}), else null. */
    private static String cacheUse(com.fasterxml.jackson.databind.JsonNode report) {
        String use = report == null ? null : report.path("cache").asText(null);
        return RunReport.CACHE_HIT.equals(use) || RunReport.CACHE_STORED.equals(use) ? use : null;
    }

    /**
     * The tuning section of a run from the candidates it tried: which one is chosen, the Pareto front, why it stopped
     * ({@link RunReport.Tuning#of}, as the in-process compressor decides).
     *
     * @param plan the stages the run executes ({@link RunEngine#plan}), whose candidates the run tried
     */
    static RunReport.Tuning tuning(RunState run, Recipe plan, List<RunState.Candidate> tried, String stoppedBy) {
        List<Candidates.Candidate> all = RunEngine.candidatesOf(plan);
        int ownStages = ownStages(run);
        List<RunReport.Candidate> entries = new ArrayList<>();
        for (RunState.Candidate c : tried) {
            entries.add(candidate(RunStates.startModel(run), c, all.get(c.number() - 1).changes(), ownStages));
        }
        Recipe.Tuning settings = plan.tuning();
        return RunReport.Tuning.of(settings.strategy(), settings.maxAttempts(), settings.timeBudget().toString(), stoppedBy, entries);
    }

    /**
     * One candidate's entry: gate, shortfall and quality from its stages; its output the newest model its stages made.
     *
     * @param start the model the run's first stage works on ({@link RunStates#startModel})
     */
    static RunReport.Candidate candidate(ArtifactRef start, RunState.Candidate c, List<String> changes, int ownStages) {
        ArtifactRef output = RunStates.latestModel(start, c.stages(), c.stages().size());
        return RunReport.Candidate.of(c.number(), changes, c.reusedStages(), stages(c.stages(), ownStages), ref(output));
    }

    /** How many of the run's stages its recipe names; the others were appended ({@link RunEngine#plan}). */
    private static int ownStages(RunState run) {
        try {
            return RecipeParser.parse(run.recipeYaml(), "recipe of " + run.runId()).stages().size();
        } catch (ModelPressException e) {
            return run.stages().size(); // a run that ran had a valid recipe; nothing is claimed appended otherwise
        }
    }

    static RunReport.ModelRef ref(ArtifactRef ref) {
        return new RunReport.ModelRef("s3://" + ref.bucket() + "/" + ref.key(), ref.bytes(), ref.sha256());
    }
}
