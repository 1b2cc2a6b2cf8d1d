package io.modelpress.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Private temporary folders that are removed when work is done. */
public final class TempFiles {
    private TempFiles() {
    }

    public static Path createDirectory(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "temporary folder", "cannot be created: " + e.getMessage(), e);
        }
    }

    /** Deletes a folder and everything in it; a file that cannot be deleted is left behind silently. */
    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temporary files only
        }
    }
}
