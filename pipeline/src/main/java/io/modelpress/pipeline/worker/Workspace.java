package io.modelpress.pipeline.worker;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** An attempt's private temporary folder: {@code in/} for downloads, {@code work/} for the stage. Removed on close. */
final class Workspace implements AutoCloseable {
    private final Path root;

    Workspace(Path parent, String name) {
        try {
            Files.createDirectories(parent);
            root = Files.createTempDirectory(parent, name);
            Files.createDirectories(in());
            Files.createDirectories(work());
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, parent.toString(), "cannot hold a stage's temporary folder: " + e.getMessage(), e);
        }
    }

    Path root() {
        return root;
    }

    Path in() {
        return root.resolve("in");
    }

    Path work() {
        return root.resolve("work");
    }

    /** Empties the stage's folder, so a retried run starts as the first did. */
    void resetWork() {
        delete(work());
        try {
            Files.createDirectories(work());
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, work().toString(), "cannot be recreated: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            delete(root);
        } catch (ModelPressException e) {
            // never hide the attempt's own outcome behind a clean-up failure
            System.getLogger(Workspace.class.getName()).log(System.Logger.Level.WARNING, e.getMessage());
        }
    }

    static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, dir.toString(), "cannot be deleted: " + e.getMessage(), e);
        }
    }
}
