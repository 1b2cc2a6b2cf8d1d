package io.modelpress.cli;

import io.modelpress.core.ModelPressException;
import io.modelpress.devstack.DevStackException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The {@code modelpress} command. Exit codes: 0 success, 2 bad input (unusable model, data, recipe or arguments),
 * 3 a quality gate failed ({@code compress}, {@code watch}, {@code demo}) or the stack is not running ({@code status}),
 * 1 anything else (I/O trouble, a failed run, internal errors). Errors are one readable line on stderr (a service that
 * fails to start adds the end of its log); {@code --debug} adds the stack trace for bug reports.
 */
@Command(name = "modelpress", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Make ONNX models smaller and faster, and prove the accuracy is kept.",
        subcommands = {InspectCommand.class, EvaluateCommand.class, CompressCommand.class,
                UpCommand.class, DownCommand.class, StatusCommand.class, SubmitCommand.class, WatchCommand.class,
                FetchCommand.class, DemoCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int BAD_INPUT = 2;
    public static final int FAILURE = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** No command given: a usage error (picocli prints the message and the usage to stderr, exit code 2). */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing required command");
    }

    public static void main(String[] args) {
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams (tests use this instead of main). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = commandLine();
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, failed, parseResult) -> {
            boolean debug = Console.debugRequested(failed);
            if (debug) {
                ex.printStackTrace(err);
            }
            if (ex instanceof ModelPressException mpe) {
                err.println("error: " + mpe.getMessage() + " [" + mpe.code() + "]");
                err.flush();
                return mpe.permanent() ? BAD_INPUT : FAILURE;
            }
            if (ex instanceof DevStackException stack) {
                // the local stack's processes and files: its messages are written for a person, like ours
                err.println("error: " + stack.getMessage());
                err.flush();
                return FAILURE;
            }
            err.println("internal error: " + ex + (debug ? "" : " (run with --debug for details)"));
            err.flush();
            return FAILURE;
        });
        return cli.execute(args);
    }

    /** The command tree as it runs: help text wrapped at spaces only ({@link SpaceWrappingHelp}). */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setHelpFactory(SpaceWrappingHelp::new);
        return cli;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"modelpress " + (v == null ? "dev" : v)};
        }
    }
}
