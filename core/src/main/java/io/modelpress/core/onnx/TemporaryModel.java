package io.modelpress.core.onnx;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A model written to a private temporary folder (with its external data) for ONNX Runtime to load, deleted on close.
 * ONNX Runtime needs a file to resolve external data; the user's folder is never written to.
 */
public final class TemporaryModel implements AutoCloseable {
    private final Path dir;
    private final Path file;

    public TemporaryModel(OnnxModel model) {
        try {
            dir = Files.createTempDirectory("modelpress-");
            file = dir.resolve("model.onnx");
            model.write(file);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "temporary model", "cannot be written: " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind is harmless
        }
    }
}
