package io.modelpress.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Help.Ansi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class HelpTextTest {
    /** The narrowest usage width picocli accepts. */
    private static final int NARROWEST = 55;
    private static final int NEVER_WRAPS = 1000;

    @Test
    void wrappingChangesOnlyWhitespaceInEveryCommandsHelp() {
        for (CommandLine command : allCommands()) {
            String name = command.getCommandSpec().qualifiedName();
            List<String> unwrapped = words(usage(command, NEVER_WRAPS));
            assertThat(unwrapped).as(name).hasSizeGreaterThan(5);
            for (int width : new int[] {NARROWEST, 80, 100}) {
                String help = usage(command, width);
                // A line broken inside a word ("report." / "json") changes the words; a break at a space does not.
                assertThat(words(help)).as(name + " at width " + width).isEqualTo(unwrapped);
                assertThat(help.lines()).as(name + " at width " + width).allSatisfy(line -> assertThat(line).hasSizeLessThanOrEqualTo(width));
            }
        }
    }

    @Test
    void fileNamesAndUrlsStayWholeAtTheNarrowestWidth() {
        CommandLine root = Main.commandLine();
        assertThat(words(usage(root, NARROWEST))).contains("report.json", "(model.onnx,");
        assertThat(words(usage(root.getSubcommands().get("compress"), NARROWEST))).contains("report.json");
        assertThat(words(usage(root.getSubcommands().get("submit"), NARROWEST))).contains("http://127.0.0.1:8080)");
        assertThat(words(usage(root.getSubcommands().get("fetch"), NARROWEST))).contains("outgoing/<name>/<run>/),", "SHA-256,");
    }

    @Test
    void aLongDescriptionWrapsUnderItsColumnWithPicoclisIndent() {
        String help = usage(Main.commandLine().getSubcommands().get("submit"), 80);
        // the --api description continues on the next lines, indented two more than its first line
        List<String> lines = help.lines().toList();
        int first = lines.indexOf(lines.stream().filter(l -> l.trim().startsWith("--api=URL")).findFirst().orElseThrow());
        int column = lines.get(first).indexOf("the orchestrator's URL");
        assertThat(lines.get(first + 1)).startsWith(" ".repeat(column + 2)).doesNotStartWith(" ".repeat(column + 3));
    }

    @Test
    void wrapAtSpacesKeepsWordsLongerThanALineWhole() {
        var lines = SpaceWrappingHelp.SpaceWrappingTable.wrapAtSpaces(Ansi.OFF.new Text("see http://127.0.0.1:8080/api/runs now"), 10, 8);
        assertThat(lines).extracting(Ansi.Text::plainString).containsExactly("see", "http://127.0.0.1:8080/api/runs", "now");
        var short_ = SpaceWrappingHelp.SpaceWrappingTable.wrapAtSpaces(Ansi.OFF.new Text("a b c d e f"), 5, 3);
        assertThat(short_).extracting(Ansi.Text::plainString).containsExactly("a b c", "d e", "f");
    }

    @Test
    void noCommandIsAUsageErrorOnStderr() {
        CliRunner r = CliRunner.run();
        assertThat(r.exitCode()).isEqualTo(Main.BAD_INPUT).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).startsWith("Missing required command").contains("Usage: modelpress").contains("Commands:");

        CliRunner help = CliRunner.run("--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("Usage: modelpress");
    }

    private static List<CommandLine> allCommands() {
        List<CommandLine> all = new ArrayList<>();
        CommandLine root = Main.commandLine();
        all.add(root);
        all.addAll(root.getSubcommands().values());
        return all;
    }

    private static String usage(CommandLine command, int width) {
        command.setUsageHelpWidth(width);
        return command.getUsageMessage(Ansi.OFF);
    }

    private static List<String> words(String text) {
        return Arrays.stream(text.split("\\s+")).filter(w -> !w.isEmpty()).toList();
    }
}
