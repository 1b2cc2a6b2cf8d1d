package io.modelpress.cli;

import io.modelpress.pipeline.events.RunState;

import java.io.PrintWriter;

/** A pipeline run's outcome: the line that says how it ended, and the exit code of watch and demo (its report: {@link ReportPrinter}). */
final class RunOutcome {
    /** Exit codes of watch and demo: 0 succeeded, 3 the quality gate failed, 1 failed or cancelled otherwise. */
    static final int GATE_FAILED = CompressCommand.GATE_FAILED;

    private RunOutcome() {
    }

    static int exitCode(RunState run) {
        if (run.state() == RunState.State.SUCCEEDED) {
            return 0;
        }
        boolean gate = run.stages().stream().anyMatch(s -> s.error() != null && "GATE_FAILED".equals(s.error().code()));
        return gate ? GATE_FAILED : Main.FAILURE;
    }

    static void printOutcome(RunState run, String bucket, PrintWriter out) {
        switch (run.state()) {
            case SUCCEEDED -> out.println("run " + run.runId() + " SUCCEEDED: outputs under s3://" + (bucket == null ? "<bucket>" : bucket)
                    + "/" + run.outgoing());
            case FAILED -> out.println("run " + run.runId() + " FAILED" + (exitCode(run) == GATE_FAILED ? " (quality gate)" : "") + ": "
                    + run.error());
            default -> out.println("run " + run.runId() + " " + run.state() + (run.error() == null ? "" : ": " + run.error()));
        }
        out.flush();
    }
}
