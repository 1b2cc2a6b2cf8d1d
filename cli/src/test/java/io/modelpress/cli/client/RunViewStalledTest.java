package io.modelpress.cli.client;

import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.StageResult;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A stage whose worker went silent is shown STALLED with what happened and what comes next, then its new attempt. */
class RunViewStalledTest {
    private static final Instant T0 = Instant.parse("2026-01-01T10:00:00Z");
    private static final String WHY = "attempt 1 stalled: no heartbeat from worker quantize-worker-h-42 for more than 60 s";

    private static RunState run(StageStatus stage) {
        return new RunState("run-1", "bert", "api", RunState.State.RUNNING, "r", "", "api", null, null, null, List.of(stage),
                null, null, T0, T0.plusSeconds(5));
    }

    private static StageStatus stage(StageStatusValue status, int attempt, String message, StageResult.Error error) {
        return new StageStatus(0, "quantize", status, attempt, status == StageStatusValue.STALLED ? 0 : 0.3, message, null, null,
                error, null, T0, null);
    }

    @Test
    void aStalledStageShowsWhichAttemptAndWorkerWentSilentAndWhatComesNext() {
        StringWriter text = new StringWriter();
        RunView view = new RunView(new PrintWriter(text), false);
        StageResult.Error stall = new StageResult.Error("LIMIT_EXCEEDED", WHY, true);

        view.show(run(stage(StageStatusValue.RUNNING, 1, "quantizing", null)));
        view.show(run(stage(StageStatusValue.STALLED, 2, WHY + "; requested again as attempt 2 of 3 for another worker", stall)));
        view.show(run(stage(StageStatusValue.RUNNING, 2, "quantizing", null)));

        List<String> lines = text.toString().lines().toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.get(2)).contains("stage 0 quantize", "STALLED", "attempt 2", WHY, "requested again as attempt 2 of 3");
        assertThat(lines.get(3)).contains("RUNNING", "attempt 2", "quantizing").doesNotContain("stalled");
    }

    @Test
    void theTerminalViewShowsTheStallToo() {
        StringWriter text = new StringWriter();
        RunView view = new RunView(new PrintWriter(text), true);

        view.show(run(stage(StageStatusValue.STALLED, 2, WHY + "; requested again as attempt 2 of 3 for another worker",
                new StageResult.Error("LIMIT_EXCEEDED", WHY, true))));

        // one line per stage, cut to the terminal's width: the stall comes first in the message
        assertThat(text.toString()).contains("STALLED", "attempt 2", "attempt 1 stalled");
    }
}
