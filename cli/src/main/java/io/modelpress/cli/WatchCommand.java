package io.modelpress.cli;

import io.modelpress.cli.client.ApiClient;
import io.modelpress.cli.client.RunView;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.RunState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;

@Command(name = "watch", mixinStandardHelpOptions = true,
        description = {"Follow a run live: a progress bar per stage (plain lines when the output is not a terminal), until it ends.",
                "Exit code 0 when the run succeeded, 3 when its quality gate failed, 1 when it failed otherwise or was cancelled."})
final class WatchCommand implements Callable<Integer> {
    /** How long to keep trying when the orchestrator cannot be reached mid-watch (it may be restarting). */
    static final Duration RECONNECT_PATIENCE = Duration.ofMinutes(2);

    @Parameters(paramLabel = "RUN", description = "the run id ('modelpress submit' prints it)")
    String runId;

    @Option(names = "--plain", description = "plain lines even on a terminal")
    boolean plain;

    @Mixin
    StackOptions stack;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        RunState last = watch(new ApiClient(stack.apiUrl()), runId, new RunView(out, !plain && RunView.terminalSupportsAnsi()),
                spec.commandLine().getErr());
        RunReport.printOutcome(last, bucket(), out);
        return RunReport.exitCode(last);
    }

    private String bucket() {
        var endpoints = stack.s3Endpoints();
        return endpoints == null ? null : endpoints.bucket();
    }

    /**
     * Shows the run's events until it ends and returns its final state. A broken stream (an orchestrator restart) is
     * followed again; the orchestrator keeps its runs across restarts.
     */
    static RunState watch(ApiClient api, String runId, RunView view, PrintWriter err) {
        long unreachableSince = 0;
        while (true) {
            RunState last;
            try {
                last = api.follow(runId, view::show);
                if (last == null || !last.state().terminal()) {
                    last = api.run(runId);
                    view.show(last);
                }
                unreachableSince = 0;
            } catch (ModelPressException e) {
                if (e.permanent()) {
                    throw e;
                }
                long now = System.nanoTime();
                if (unreachableSince == 0) {
                    unreachableSince = now;
                    err.println("lost the orchestrator (" + e.getMessage() + "); retrying for " + RECONNECT_PATIENCE.toSeconds() + " s");
                    err.flush();
                } else if (now - unreachableSince > RECONNECT_PATIENCE.toNanos()) {
                    throw e;
                }
                sleep(Duration.ofSeconds(2));
                continue;
            }
            if (last.state().terminal()) {
                return last;
            }
            sleep(Duration.ofSeconds(1));
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
