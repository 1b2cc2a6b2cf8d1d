package io.modelpress.cli.client;

import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Shows a run's progress in a terminal: with ANSI escapes, one progress bar per stage redrawn in place; without
 * (output to a file or a pipe), one line per change worth reading (a stage's status, every 10% of progress). A stage
 * whose worker went silent shows STALLED with the orchestrator's note (which attempt, which worker, the next attempt)
 * until another worker reports on its next attempt.
 */
public final class RunView {
    private static final int BAR_WIDTH = 30;
    /** Redrawn lines must not wrap (the cursor moves back by lines): longer messages are cut. */
    private static final int MAX_LINE = 118;
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

    private final PrintWriter out;
    private final boolean ansi;
    private int drawnLines;
    /** Plain mode: what was last printed per stage, so only changes are printed. */
    private final Map<Integer, String> lastLine = new HashMap<>();
    private String lastRunLine;

    public RunView(PrintWriter out, boolean ansi) {
        this.out = out;
        this.ansi = ansi;
    }

    /** True when standard output is a terminal (then ANSI escapes are safe) and TERM is not "dumb". */
    public static boolean terminalSupportsAnsi() {
        return System.console() != null && !"dumb".equals(System.getenv("TERM"));
    }

    public void show(RunState run) {
        if (ansi) {
            redraw(run);
        } else {
            printChanges(run);
        }
        out.flush();
    }

    private void redraw(RunState run) {
        if (drawnLines > 0) {
            out.print("\u001b[" + drawnLines + "F");
        }
        List<String> lines = new java.util.ArrayList<>();
        lines.add(header(run));
        for (StageStatus stage : run.stages()) {
            String line = stageLine(stage, true);
            lines.add(line.length() > MAX_LINE ? line.substring(0, MAX_LINE - 3) + "..." : line);
        }
        for (String line : lines) {
            out.print("\u001b[2K" + line + "\n");
        }
        drawnLines = lines.size();
    }

    private void printChanges(RunState run) {
        String runLine = run.state() + (run.error() == null ? "" : ": " + run.error());
        if (!runLine.equals(lastRunLine)) {
            out.println(CLOCK.format(Instant.now()) + "  run " + run.runId() + " (" + run.name() + ") " + runLine);
            lastRunLine = runLine;
        }
        for (StageStatus stage : run.stages()) {
            String key = stage.status() + "|" + stage.attempt() + "|" + (int) Math.floor(stage.progress() * 10);
            if (!key.equals(lastLine.get(stage.index()))) {
                lastLine.put(stage.index(), key);
                out.println(CLOCK.format(Instant.now()) + "  " + stageLine(stage, false));
            }
        }
    }

    private static String header(RunState run) {
        Instant end = run.state().terminal() ? run.updatedAt() : Instant.now();
        long seconds = run.createdAt() == null ? 0 : Duration.between(run.createdAt(), end).toSeconds();
        return "run " + run.runId() + " (" + run.name() + ")  " + colour(run.state().name(), run.state()) + "  " + seconds + " s";
    }

    private static String stageLine(StageStatus stage, boolean withBar) {
        double progress = stage.status() == RunState.StageStatusValue.SUCCEEDED ? 1.0 : Math.max(0, Math.min(1, stage.progress()));
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  stage %d %-9s", stage.index(), stage.type()));
        if (withBar) {
            int filled = (int) Math.round(progress * BAR_WIDTH);
            line.append(" [").append("#".repeat(filled)).append("-".repeat(BAR_WIDTH - filled)).append("]");
        }
        line.append(String.format(Locale.ROOT, " %3d%%  %-9s", Math.round(progress * 100), stage.status()));
        if (stage.attempt() > 1) {
            line.append(" attempt ").append(stage.attempt());
        }
        Long millis = stage.startedAt() == null ? null
                : Duration.between(stage.startedAt(), stage.finishedAt() != null ? stage.finishedAt() : Instant.now()).toMillis();
        if (millis != null && stage.status() != RunState.StageStatusValue.WAITING) {
            line.append(String.format(Locale.ROOT, " %5.1f s", millis / 1000.0));
        }
        if (stage.error() != null && stage.status() != RunState.StageStatusValue.STALLED) {
            line.append("  ").append(stage.error().code()).append(": ").append(stage.error().message());
        } else if (stage.message() != null && !stage.message().isBlank()) {
            // a STALLED stage's message says which attempt stalled, whose worker went silent, and what comes next
            line.append("  ").append(stage.message());
        }
        return line.toString();
    }

    private static String colour(String text, RunState.State state) {
        String code = switch (state) {
            case SUCCEEDED -> "32";
            case FAILED, CANCELLED -> "31";
            default -> "33";
        };
        return "\u001b[" + code + "m" + text + "\u001b[0m";
    }
}
