package io.modelpress.cli;

import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.StageResult;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class RunOutcomeTest {
    private static RunState run(RunState.State state, String errorCode) {
        StageResult.Error error = errorCode == null ? null : new StageResult.Error(errorCode, "why", false);
        StageStatus stage = new StageStatus(0, "eval", error == null ? StageStatusValue.SUCCEEDED : StageStatusValue.FAILED, 1, 1, null,
                null, null, error, null, null, null);
        return new RunState("run-1", "m", "api", state, null, null, null, null, null, null, List.of(stage), null, null,
                Instant.EPOCH, Instant.EPOCH);
    }

    @Test
    void exitCodesFollowTheRunsOutcome() {
        assertThat(RunOutcome.exitCode(run(RunState.State.SUCCEEDED, null))).isZero();
        assertThat(RunOutcome.exitCode(run(RunState.State.FAILED, "GATE_FAILED"))).isEqualTo(3);
        assertThat(RunOutcome.exitCode(run(RunState.State.FAILED, "NOT_ONNX"))).isEqualTo(1);
        assertThat(RunOutcome.exitCode(run(RunState.State.CANCELLED, null))).isEqualTo(1);
    }
}
