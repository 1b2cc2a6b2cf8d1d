package io.modelpress.cli;

import io.modelpress.cli.client.RunView;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.stack.ApiClient;
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
    /** How often the run's state is read when not following its server-sent events. */
    static final Duration POLL_INTERVAL = Duration.ofMillis(500);
    /** How long to keep trying when the orchestrator cannot be reached mid-watch (it may be restarting). */
    static final Duration RECONNECT_PATIENCE = Duration.ofMinutes(2);

    @Parameters(paramLabel = "RUN", description = "the run id ('modelpress submit' prints it)")
    String runId;

    @Option(names = "--plain", description = "plain lines even on a terminal")
    boolean plain;

    @Option(names = "--poll", description = "read the run's state every 0.5 s instead of following the orchestrator's "
            + "server-sent events (GET /api/runs/RUN/events), e.g. behind proxies that buffer event streams")
    boolean poll;

    @Mixin
    StackOptions stack;

    @Override
    public Integer call() {
        PrintWriter out = stack.out();
        RunState last = watch(stack.apiClient(), runId, new RunView(out, !plain && RunView.terminalSupportsAnsi()),
                stack.err(), !poll);
        RunOutcome.printOutcome(last, bucket(), out);
        if (last.state() == RunState.State.SUCCEEDED) {
            ReportPrinter.printStored(stack.s3Endpoints(), last, out);
        }
        return RunOutcome.exitCode(last);
    }

    private String bucket() {
        var endpoints = stack.s3Endpoints();
        return endpoints == null ? null : endpoints.bucket();
    }

    /**
     * Shows the run's progress until it ends and returns its final state: from its server-sent events, or by reading
     * its state every {@link #POLL_INTERVAL}. An orchestrator that cannot be reached for a while (a restart) is tried
     * again; it keeps its runs across restarts.
     */
    static RunState watch(ApiClient api, String runId, RunView view, PrintWriter err, boolean sse) {
        long unreachableSince = 0;
        while (true) {
            RunState last;
            try {
                last = sse ? api.follow(runId, view::show) : null;
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
            sleep(sse ? Duration.ofSeconds(1) : POLL_INTERVAL);
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
