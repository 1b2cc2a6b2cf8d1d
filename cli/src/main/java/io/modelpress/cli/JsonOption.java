package io.modelpress.cli;

import picocli.CommandLine.Option;

/** {@code --json} of the commands that print a report either as text or as one JSON object (a picocli mixin). */
final class JsonOption {
    @Option(names = "--json", description = "print one JSON object (stable keys, see docs/cli.md)")
    boolean requested;
}
