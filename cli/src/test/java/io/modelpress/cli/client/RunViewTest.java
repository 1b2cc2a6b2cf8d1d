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

class RunViewTest {
    private static final Instant T0 = Instant.parse("2026-01-01T10:00:00Z");

    static RunState run(RunState.State state, StageStatus... stages) {
        return new RunState("run-1", "bert", "api", state, "r", "", "api", null, null, null, List.of(stages), null,
                state == RunState.State.FAILED ? "stage 1 (eval) failed: GATE_FAILED: min_cosine" : null, T0, T0.plusSeconds(5));
    }

    static StageStatus stage(int index, String type, StageStatusValue status, double progress, String message) {
        StageResult.Error error = status == StageStatusValue.FAILED ? new StageResult.Error("GATE_FAILED", "min_cosine = 0.9, below", false) : null;
        return new StageStatus(index, type, status, 1, progress, message, null, null, error, null,
                status == StageStatusValue.WAITING ? null : T0, status == StageStatusValue.SUCCEEDED ? T0.plusSeconds(2) : null);
    }

    @Test
    void plainOutputPrintsALineOnlyWhenAStageChangesVisibly() {
        StringWriter text = new StringWriter();
        RunView view = new RunView(new PrintWriter(text), false);

        view.show(run(RunState.State.RUNNING, stage(0, "quantize", StageStatusValue.RUNNING, 0.11, "quantizing"),
                stage(1, "eval", StageStatusValue.WAITING, 0, null)));
        view.show(run(RunState.State.RUNNING, stage(0, "quantize", StageStatusValue.RUNNING, 0.15, "quantizing"),
                stage(1, "eval", StageStatusValue.WAITING, 0, null)));
        view.show(run(RunState.State.RUNNING, stage(0, "quantize", StageStatusValue.RUNNING, 0.52, "quantizing"),
                stage(1, "eval", StageStatusValue.WAITING, 0, null)));
        view.show(run(RunState.State.FAILED, stage(0, "quantize", StageStatusValue.SUCCEEDED, 1, "done"),
                stage(1, "eval", StageStatusValue.FAILED, 0.5, null)));

        List<String> lines = text.toString().lines().toList();
        assertThat(lines).noneMatch(l -> l.contains("\u001b"));
        // run RUNNING, both stages, 11% -> 15% is no new line, 52% is; then FAILED, stage 0 done, stage 1 failed
        assertThat(lines).hasSize(7);
        assertThat(lines.get(3)).contains("stage 0 quantize").contains("52%").contains("RUNNING");
        assertThat(lines.get(4)).contains("run run-1 (bert) FAILED: stage 1 (eval) failed: GATE_FAILED");
        assertThat(lines.get(6)).contains("stage 1 eval").contains("FAILED").contains("GATE_FAILED: min_cosine = 0.9, below");
    }

    @Test
    void ansiOutputRedrawsOneBarPerStageInPlace() {
        StringWriter text = new StringWriter();
        RunView view = new RunView(new PrintWriter(text), true);

        view.show(run(RunState.State.RUNNING, stage(0, "quantize", StageStatusValue.RUNNING, 0.5, "x".repeat(300))));
        String first = text.toString();
        view.show(run(RunState.State.SUCCEEDED, stage(0, "quantize", StageStatusValue.SUCCEEDED, 1, "done")));
        String second = text.toString().substring(first.length());

        assertThat(first).contains("[###############---------------]  50%").doesNotContain("\u001b[2F");
        assertThat(first.lines()).allMatch(l -> l.replaceAll("\u001b\\[[0-9;]*[A-Za-z]", "").length() <= 118);
        // back up over the two lines drawn before, then draw them again
        assertThat(second).startsWith("\u001b[2F").contains("[##############################] 100%").contains("SUCCEEDED");
    }
}
