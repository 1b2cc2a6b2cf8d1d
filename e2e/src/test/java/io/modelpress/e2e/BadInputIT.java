package io.modelpress.e2e;

import io.modelpress.pipeline.events.RunState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import java.util.concurrent.TimeUnit;

/** Drops that cannot work end in a FAILED run with an error a user can act on; nothing the user gave is lost. */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class BadInputIT {
    private final E2eStack e2e = E2eStack.shared();

    @Test
    void aFileThatIsNotOnnxFailsItsRunAndIsKept() {
        String name = E2eStack.uniqueName("not-onnx");
        String key = "incoming/" + name + "/model.onnx";
        e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.EVAL_RECIPE);
        e2e.put(key, "name,score\nalice,3\nbob,5\n");

        RunState run = e2e.awaitEnd(e2e.awaitRunFor(key).runId());

        assertThat(run.state()).isEqualTo(RunState.State.FAILED);
        assertThat(run.error()).contains("NOT_ONNX").contains("model.onnx");
        assertThat(run.error()).doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(run.outgoing()).isNull();
        assertThat(e2e.keysUnder("outgoing/" + name + "/")).isEmpty();
        assertThat(e2e.keysUnder("incoming/" + name + "/")).contains("model.onnx");
        assertThat(e2e.keysUnder("runs/" + run.runId() + "/input/")).contains("model.onnx");
    }

    @Test
    void aBrokenRecipeFailsItsRunWithTheRecipesProblem() {
        String name = E2eStack.uniqueName("bad-recipe");
        String key = "incoming/" + name + "/model.onnx";
        e2e.put("incoming/" + name + "/recipe.yaml", """
                name: broken
                stages:
                  - eval: { metrics: [latency], sampels: 10 }
                """);
        e2e.put(key, E2eStack.smallModel(4));

        RunState run = e2e.awaitEnd(e2e.awaitRunFor(key).runId());

        assertThat(run.state()).isEqualTo(RunState.State.FAILED);
        assertThat(run.error()).contains("BAD_RECIPE").contains("incoming/" + name + "/recipe.yaml").contains("sampels");
        assertThat(run.error()).doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(e2e.keysUnder("outgoing/" + name + "/")).isEmpty();
        assertThat(e2e.keysUnder("incoming/" + name + "/")).containsExactlyInAnyOrder("model.onnx", "recipe.yaml");
        assertThat(e2e.keysUnder("runs/" + run.runId() + "/input/")).contains("model.onnx", "recipe.yaml");
    }
}
