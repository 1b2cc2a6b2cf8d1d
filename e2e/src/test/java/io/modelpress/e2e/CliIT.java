package io.modelpress.e2e;

import io.modelpress.pipeline.events.RunState;
import io.modelpress.core.Sha256;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import java.util.concurrent.TimeUnit;

/** The client commands against the running stack: submit, watch (exit codes by outcome), fetch. */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CliIT {
    private final E2eStack e2e = E2eStack.shared();

    @TempDir
    Path dir;

    private String[] client(String... args) {
        String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--api";
        all[args.length + 1] = e2e.stack.apiUrl();
        all[args.length + 2] = "--dir";
        all[args.length + 3] = e2e.stack.directory().root().toString();
        return all;
    }

    @Test
    void submitWatchAndFetchARun() throws Exception {
        Path model = Files.write(dir.resolve("tiny.onnx"), E2eStack.smallModel(7));
        Path recipe = Files.writeString(dir.resolve("recipe.yaml"), E2eStack.EVAL_RECIPE, StandardCharsets.UTF_8);
        String name = E2eStack.uniqueName("cli");

        Cli submit = Cli.run(client("submit", model.toString(), "--recipe", recipe.toString(), "--name", name));
        assertThat(submit.exitCode()).as(submit.toString()).isZero();
        String runId = submit.out().strip();
        assertThat(runId).startsWith("run-");

        Cli watch = Cli.run(client("watch", runId, "--poll", "--plain"));
        assertThat(watch.exitCode()).as(watch.toString()).isZero();
        assertThat(watch.out()).contains("stage 0 eval").contains("SUCCEEDED")
                .contains("outgoing/" + name + "/" + runId + "/").doesNotContain("\u001b[");

        Path out = dir.resolve("fetched");
        Cli fetch = Cli.run(client("fetch", runId, "--out", out.toString()));
        assertThat(fetch.exitCode()).as(fetch.toString()).isZero();
        assertThat(out.resolve("model.onnx")).exists();
        assertThat(out.resolve("report.json")).exists();
        assertThat(Sha256.of(out.resolve("model.onnx"))).isEqualTo(Sha256.of(model));
        assertThat(fetch.out()).contains("latency   batch 1:");
        RunState run = e2e.api.run(runId);
        assertThat(run.source()).isEqualTo("api");

        // the server-sent events of an ended run: its final state, then the end of the stream
        Cli sse = Cli.run(client("watch", runId, "--plain"));
        assertThat(sse.exitCode()).as(sse.toString()).isZero();
        assertThat(sse.out()).contains("stage 0 eval").contains("100%").contains("run " + runId + " SUCCEEDED");
    }

    @Test
    void watchExitsWithThreeWhenTheQualityGateFails() throws Exception {
        Path model = Files.write(dir.resolve("gate.onnx"), E2eStack.smallModel(8));
        // an unchanged model is not 2x smaller than itself
        Path recipe = Files.writeString(dir.resolve("recipe.yaml"), """
                name: impossible-gate
                stages:
                  - eval: { metrics: [size], gate: { min_compression_ratio: 2 } }
                """, StandardCharsets.UTF_8);
        Cli submit = Cli.run(client("submit", model.toString(), "--recipe", recipe.toString()));
        assertThat(submit.exitCode()).as(submit.toString()).isZero();

        Cli watch = Cli.run(client("watch", submit.out().strip(), "--plain"));

        assertThat(watch.exitCode()).as(watch.toString()).isEqualTo(3);
        assertThat(watch.out()).contains("FAILED (quality gate)").contains("GATE_FAILED").contains("min_compression_ratio");
    }

    @Test
    void submittingAFileThatIsNotOnnxIsRefusedWithItsReason() throws Exception {
        Path notAModel = Files.writeString(dir.resolve("notes.onnx"), "just some text\n", StandardCharsets.UTF_8);

        Cli submit = Cli.run(client("submit", notAModel.toString()));

        assertThat(submit.exitCode()).as(submit.toString()).isEqualTo(2);
        assertThat(submit.err()).contains("NOT_ONNX").contains("notes.onnx").doesNotContain("Exception");
        assertThat(submit.out()).isEmpty();
    }

    @Test
    void watchingAnUnknownRunSaysSo() {
        Cli watch = Cli.run(client("watch", "run-does-not-exist", "--plain"));

        assertThat(watch.exitCode()).as(watch.toString()).isEqualTo(2);
        assertThat(watch.err()).contains("run-does-not-exist").contains("404");
    }
}
