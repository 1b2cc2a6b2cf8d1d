package io.modelpress.pipeline.events;

import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The run state as the runs topic keeps it: a tuning run's state and a run's student survive the round trip, an older
 * state still reads.
 */
class RunStateJsonTest {
    private static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");
    private static final Instant T1 = Instant.parse("2026-03-01T10:05:00Z");

    private static StageStatus stage(int index, String type, StageStatusValue status, int attempt) {
        return new StageStatus(index, type, status, attempt, 1, "done", null, null, null, null, T0, T1);
    }

    @Test
    void aTuningRunsStateRoundTrips() {
        RunState.Candidate first = new RunState.Candidate(1, 0, List.of(stage(0, "quantize", StageStatusValue.SUCCEEDED, 1),
                stage(1, "eval", StageStatusValue.FAILED, 1)), T0, T1);
        RunState run = new RunState("r1", "m", "api", RunState.State.RUNNING, "n", "stages: []", "api", null, List.of(), null,
                List.of(stage(0, "quantize", StageStatusValue.QUEUED, 2), stage(1, "eval", StageStatusValue.WAITING, 1)),
                null, null, T0, T1, new RunState.Tuning(2, 0, T1, List.of(first), null));

        byte[] json = Json.write(run);
        RunState read = Json.read(json, RunState.class);

        assertThat(read).isEqualTo(run);
        assertThat(new String(json, StandardCharsets.UTF_8)).contains("\"tuning\":{\"candidate\":2,\"reused_stages\":0");
        assertThat(read.tuning().stopped()).isFalse();
    }

    @Test
    void aStatePersistedBeforeTuningExistedReadsWithoutIt() {
        String old = """
                {"run_id":"r0","name":"m","source":"api","state":"SUCCEEDED","recipe_name":"n","recipe_yaml":"stages: []",
                 "stages":[{"index":0,"type":"eval","status":"SUCCEEDED","attempt":1,"progress":1.0}],
                 "outgoing":"outgoing/m/r0/","created_at":"2026-03-01T10:00:00Z","updated_at":"2026-03-01T10:05:00Z"}
                """;
        RunState read = Json.read(old.getBytes(StandardCharsets.UTF_8), RunState.class);

        assertThat(read.tuning()).isNull();
        assertThat(read.stages()).hasSize(1);
        assertThat(read.outgoing()).isEqualTo("outgoing/m/r0/");
        // and a run without tuning writes no tuning key: older readers see what they always saw
        assertThat(new String(Json.write(read), StandardCharsets.UTF_8)).doesNotContain("tuning");
    }

    @Test
    void aRunsStudentRoundTripsAndARunWithoutOneWritesNoKey() {
        ArtifactRef model = new ArtifactRef("b", "runs/r2/input/model.onnx", "aa", 10);
        ArtifactRef student = new ArtifactRef("b", "runs/r2/input/student/small.onnx", "bb", 4);
        RunState run = new RunState("r2", "m", "api", RunState.State.RUNNING, "n", "stages: []", "api", model, List.of(), null,
                List.of(stage(0, "distill", StageStatusValue.QUEUED, 1)), null, null, T0, T1, null, student);

        byte[] json = Json.write(run);
        RunState read = Json.read(json, RunState.class);

        assertThat(read).isEqualTo(run);
        assertThat(read.student()).isEqualTo(student);
        assertThat(new String(json, StandardCharsets.UTF_8)).contains("\"student\":{\"bucket\":\"b\",\"key\":\"runs/r2/input/student/small.onnx\"");
        RunState without = new RunState("r3", "m", "api", RunState.State.RUNNING, "n", "stages: []", "api", model, List.of(), null,
                List.of(), null, null, T0, T1);
        assertThat(new String(Json.write(without), StandardCharsets.UTF_8)).doesNotContain("student");
    }
}
