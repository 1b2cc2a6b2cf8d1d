package io.modelpress.cli;

import io.modelpress.cli.client.RunView;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.report.RunReports;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.stack.ApiClient;
import io.modelpress.stack.DemoJob;
import io.modelpress.stack.Stack;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The whole pipeline in one command: start the local stack, submit all-MiniLM-L6-v2 with its tokenizer and "
                + "example sentences under a dynamic INT8 + evaluation recipe, show the progress, print the report and fetch "
                + "the outputs.",
                "The stack stays up afterwards (for 'submit', 'watch', 'fetch'; stop it with 'modelpress down'), unless --down is given.",
                "Exit code 0 when the run succeeded, 3 when its quality gate failed, 1 otherwise."})
final class DemoCommand implements Callable<Integer> {
    @Mixin
    StackOptions stack;

    @Option(names = "--out", paramLabel = "DIR", description = "where the outputs are fetched to (default: out/demo-<run>)")
    Path out;

    @Option(names = "--recipe", paramLabel = "R", description = "another recipe to try: a file or a built-in name "
            + "(default: dynamic INT8 + eval with a cosine gate, printed when the demo starts)")
    String recipe;

    @Option(names = "--down", description = "stop the stack when the demo ends")
    boolean down;

    @Option(names = "--plain", description = "plain progress lines even on a terminal")
    boolean plain;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = stack.out();
        PrintWriter err = stack.err();
        long start = System.nanoTime();
        stdout.println("== 1/4 starting the local stack");
        Stack local = UpCommand.up(stack, stack.ports(null, null, null, null, null, null, null, null), true, stdout);
        Endpoints endpoints = stack.s3Endpoints();
        try {
            stdout.println();
            stdout.println("== 2/4 submitting all-MiniLM-L6-v2 (fp32) with " + (recipe == null ? "a dynamic INT8 + eval recipe" : "recipe " + recipe));
            Path model = ReferenceModels.minilm();
            Path tokenizer = ReferenceModels.minilmTokenizer();
            Path data = StackOptions.projectRoot().resolve(DemoJob.DATA);
            if (!Files.isRegularFile(data)) {
                throw new ModelPressException(ErrorCode.IO_ERROR, data.toString(), "is missing; run the demo from a checkout of the project");
            }
            Path demoRecipe = Files.createTempFile("modelpress-demo-", ".yaml");
            RunState run;
            try {
                if (recipe == null) {
                    Files.writeString(demoRecipe, DemoJob.RECIPE, StandardCharsets.UTF_8);
                    stdout.print(DemoJob.RECIPE.lines().map(l -> "  | " + l).reduce("", (a, b) -> a + b + "\n"));
                    stdout.flush();
                }
                run = SubmitCommand.submit(local.apiClient(), model, null, recipe != null ? recipe : demoRecipe.toString(),
                        List.of(data), tokenizer, DemoJob.NAME, stdout);
            } finally {
                Files.deleteIfExists(demoRecipe);
            }

            stdout.println();
            stdout.println("== 3/4 running (" + local.apiUrl() + "/api/runs/" + run.runId() + ")");
            stdout.flush();
            RunState last = WatchCommand.watch(local.apiClient(), run.runId(),
                    new RunView(stdout, !plain && RunView.terminalSupportsAnsi()), err, true);
            RunOutcome.printOutcome(last, endpoints.bucket(), stdout);

            stdout.println();
            stdout.println("== 4/4 results");
            if (last.state() == RunState.State.SUCCEEDED) {
                Path target = out != null ? out : Path.of("out", "demo-" + last.runId());
                try (ArtifactStore store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(),
                        endpoints.s3SecretKey(), endpoints.bucket()))) {
                    FetchCommand.fetch(store, last, target, stdout);
                }
                ReportPrinter.printFile(target.resolve(RunReports.JSON_FILE), stdout);
                stdout.println("outputs   s3://" + endpoints.bucket() + "/" + last.outgoing() + "{model.onnx,report.json,report.html}");
                stdout.println("local     " + target.toAbsolutePath() + "/");
            } else {
                stdout.println("no outputs: the run did not succeed. Inputs and any stage outputs are kept under s3://"
                        + endpoints.bucket() + "/runs/" + last.runId() + "/; logs under " + local.directory().logs());
            }
            stdout.printf(Locale.ROOT, "demo finished in %.1f s%n", (System.nanoTime() - start) / 1e9);
            return RunOutcome.exitCode(last);
        } finally {
            if (down) {
                stdout.println("stopping the stack (--down)");
                stdout.flush();
                local.stopServices(stdout);
                local.devstackDown(stdout);
            } else {
                stdout.println("the stack is still running: try ./modelpress status, submit, watch, fetch; stop it with ./modelpress down"
                        + stack.dirOption());
            }
            stdout.flush();
        }
    }
}
