package io.modelpress.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** What every command shares: errors as one line, {@code --debug} for the stack trace, accepted by every command. */
class ConsoleTest {
    @TempDir
    Path dir;

    @Test
    void anErrorIsOneLineAndDebugAddsItsStackTrace() {
        String missing = dir.resolve("missing.onnx").toString();

        CliRunner plain = CliRunner.run("inspect", missing);
        assertThat(plain.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(plain.err().lines()).hasSize(1).allSatisfy(line -> assertThat(line).startsWith("error: ").contains("missing.onnx"));

        CliRunner debug = CliRunner.run("inspect", missing, "--debug");
        assertThat(debug.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(debug.err()).contains("ModelPressException").contains("\tat io.modelpress.")
                .contains(plain.err().strip());
    }

    @Test
    void everyCommandTakesDebugAndHidesIt() {
        CommandLine root = Main.commandLine();
        root.getSubcommands().forEach((name, command) -> {
            if (!name.equals("help")) {
                assertThat(command.getCommandSpec().findOption("--debug")).as(name).isNotNull()
                        .satisfies(option -> assertThat(option.hidden()).as(name).isTrue());
            }
        });
        // a stack command: --debug is an option of it, not a usage error
        CliRunner status = CliRunner.run("status", "--dir", dir.toString(), "--debug");
        assertThat(status.exitCode()).as(status.err()).isEqualTo(StatusCommand.NOT_RUNNING);
        assertThat(status.out()).contains("orchestrator").contains("stopped");
    }

    @Test
    void aStackErrorIsOneReadableLine() throws IOException {
        // the stack directory is a file: its pid files cannot be there
        Path notADirectory = Files.writeString(dir.resolve("stack"), "not a directory");

        CliRunner down = CliRunner.run("down", "--dir", notADirectory.toString());

        assertThat(down.exitCode()).isEqualTo(Main.FAILURE);
        assertThat(down.err()).startsWith("error: Cannot delete " + notADirectory.resolve("pids")).doesNotContain("internal error")
                .doesNotContain("\tat ");
    }
}
