package io.modelpress.devstack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class LogTailTest {
    @TempDir
    Path dir;

    @Test
    void givesTheLastLinesOfALargeLogIndented() throws IOException {
        Path log = dir.resolve("service.log");
        // ~590 KB: far more than the part that is read
        Files.writeString(log, IntStream.rangeClosed(1, 50_000).mapToObj(i -> "line " + i).collect(Collectors.joining("\n", "", "\n")));

        assertThat(LogTail.of(log, 3)).isEqualTo("  line 49998\n  line 49999\n  line 50000");
    }

    @Test
    void saysWhenThereIsNothingToShow() throws IOException {
        assertThat(LogTail.of(dir.resolve("missing.log"), 5)).isEqualTo("  (no log written)");
        Path empty = Files.createFile(dir.resolve("empty.log"));
        assertThat(LogTail.of(empty, 5)).isEqualTo("  (log is empty)");
    }
}
