package io.modelpress.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;

/**
 * The part every command shares (a picocli mixin): where it prints, and the hidden {@code --debug} option, which makes
 * {@link Main}'s error handler print the stack trace of an error as well.
 */
final class Console {
    private static final String DEBUG = "--debug";

    @Option(names = DEBUG, hidden = true, description = "on an error, print its stack trace too (for bug reports)")
    boolean debug;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    PrintWriter out() {
        return command.commandLine().getOut();
    }

    PrintWriter err() {
        return command.commandLine().getErr();
    }

    /** Whether the command that failed was given {@code --debug}. */
    static boolean debugRequested(CommandLine failed) {
        CommandLine.ParseResult parsed = failed.getParseResult();
        return parsed != null && parsed.hasMatchedOption(DEBUG);
    }
}
