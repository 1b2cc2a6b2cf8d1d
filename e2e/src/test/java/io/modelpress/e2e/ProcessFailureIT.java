package io.modelpress.e2e;

import io.modelpress.core.recipe.StageSpec;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.stack.Service;
import io.modelpress.stack.ServiceProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Processes die: a worker killed (SIGKILL) in the middle of its stage is replaced and the run completes, once; an
 * orchestrator killed in the middle of a run is started again and loses no run.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ProcessFailureIT {
    private final E2eStack e2e = E2eStack.shared();

    @Test
    void aWorkerKilledMidStageIsReplacedAndTheRunCompletesOnce() {
        String name = E2eStack.uniqueName("worker-killed");
        String key = "incoming/" + name + "/model.onnx";
        e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.SLOW_EVAL_RECIPE);
        e2e.put(key, E2eStack.slowModel(5));
        String runId = e2e.awaitRunFor(key).runId();

        e2e.awaitStageRunning(runId, 0);
        ServiceProcess killed = e2e.process(Service.EVAL_WORKER);
        killed.kill();
        e2e.startAndAwait(Service.EVAL_WORKER);

        RunState run = e2e.awaitEnd(runId);
        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
        assertThat(e2e.runsFor(key)).extracting(RunState::runId).containsExactly(runId);
        assertThat(e2e.keysUnder("outgoing/" + name + "/")).containsExactlyInAnyOrder(
                runId + "/model.onnx", runId + "/report.json", runId + "/report.html");
        // the result is the replacement's: the killed worker never finished
        RunState.StageStatus stage = run.stages().get(0);
        String stageFolder = StageSpec.label(stage.index(), stage.type());
        String attemptFolder = "runs/" + runId + "/" + stageFolder + "-a" + stage.attempt() + "/";
        StageResult recorded = e2e.store.getJson(attemptFolder + "stage.json", StageResult.class).orElseThrow(
                () -> new AssertionError("no " + attemptFolder + "stage.json; the run's keys: " + e2e.keysUnder("runs/" + runId + "/")
                        + "; its stages: " + run.stages()));
        assertThat(recorded.workerId()).doesNotEndWith("-" + killed.pid());
        assertThat(recorded.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        // one recorded result per attempt folder, and no folder for attempts that were never made
        List<String> stageFolders = e2e.keysUnder("runs/" + runId + "/").stream().filter(k -> !k.startsWith("input/")).toList();
        assertThat(stageFolders).isNotEmpty().allMatch(k -> k.matches(stageFolder + "-a[1-" + stage.attempt() + "]/stage\\.json"));
    }

    @Test
    void anOrchestratorKilledMidRunIsRestartedAndLosesNoRun() throws Exception {
        String name = E2eStack.uniqueName("orchestrator-killed");
        String key = "incoming/" + name + "/model.onnx";
        e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.SLOW_EVAL_RECIPE);
        e2e.put(key, E2eStack.slowModel(6));
        String runId = e2e.awaitRunFor(key).runId();

        e2e.awaitStageRunning(runId, 0);
        // someone follows the run with 'modelpress watch' through the restart
        CompletableFuture<Cli> watch = CompletableFuture.supplyAsync(() -> Cli.run("watch", runId, "--poll", "--plain", "--api", e2e.stack.apiUrl(),
                "--dir", e2e.stack.directory().root().toString()));
        e2e.process(Service.ORCHESTRATOR).kill();
        e2e.startAndAwait(Service.ORCHESTRATOR);

        RunState run = e2e.awaitEnd(runId);
        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
        assertThat(e2e.runsFor(key)).extracting(RunState::runId).containsExactly(runId);
        assertThat(e2e.keysUnder("outgoing/" + name + "/")).containsExactlyInAnyOrder(
                runId + "/model.onnx", runId + "/report.json", runId + "/report.html");
        Cli watched = watch.get(2, TimeUnit.MINUTES);
        assertThat(watched.exitCode()).as(watched.toString()).isZero();
        assertThat(watched.out()).contains("run " + runId + " SUCCEEDED");
        assertThat(watched.err()).contains("lost the orchestrator");
    }

    @Test
    void sseWatchFollowsARunThroughAnOrchestratorRestart() throws Exception {
        String name = E2eStack.uniqueName("watch-restart");
        String key = "incoming/" + name + "/model.onnx";
        e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.SLOW_EVAL_RECIPE);
        e2e.put(key, E2eStack.slowModel(7));
        String runId = e2e.awaitRunFor(key).runId();

        e2e.awaitStageRunning(runId, 0);
        CompletableFuture<Cli> watch = CompletableFuture.supplyAsync(() -> Cli.run("watch", runId, "--plain", "--api", e2e.stack.apiUrl(),
                "--dir", e2e.stack.directory().root().toString()));
        e2e.process(Service.ORCHESTRATOR).kill();
        e2e.startAndAwait(Service.ORCHESTRATOR);

        Cli watched = watch.get(4, TimeUnit.MINUTES);
        assertThat(watched.exitCode()).as(watched.toString()).isZero();
        assertThat(watched.out()).contains("run " + runId + " SUCCEEDED");
        assertThat(watched.err()).contains("lost the orchestrator");
    }
}
