package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.report.RunReport;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A finished run as core's {@link RunReport}: the run report the in-process compressor writes too, so the same
 * recipe gives the same report either way (docs/report.md). Written beside the final model as report.json and
 * report.html by {@link Outputs}.
 */
final class Reports {
    private Reports() {
    }

    /** @param output the final model where it was published */
    static RunReport report(RunState run, ArtifactRef output, Instant finishedAt) {
        int ownStages = ownStages(run);
        List<RunReport.Stage> stages = new ArrayList<>();
        for (StageStatus stage : run.stages()) {
            stages.add(RunReport.Stage.of(stage.index(), stage.type(), stage.index() >= ownStages, stage.status().name(),
                    stage.attempt(), stage.startedAt(), stage.finishedAt(),
                    stage.timings() == null ? null : new RunReport.WorkerTimings(stage.timings().downloadMs(),
                            stage.timings().runMs(), stage.timings().uploadMs()),
                    stage.output() == null ? null : ref(stage.output()),
                    stage.error() == null ? null : new RunReport.StageError(stage.error().code(), stage.error().message()),
                    stage.metrics()));
        }
        return RunReport.assemble(new RunReport.Run(run.runId(), run.name(), run.source(), run.state().name(), run.error()),
                new RunReport.RecipeRef(run.recipeName(), run.recipeSource(), run.recipeYaml()), ref(run.input()), ref(output),
                stages, run.createdAt(), finishedAt);
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
