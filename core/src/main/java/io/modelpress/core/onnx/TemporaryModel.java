package io.modelpress.core.onnx;

import io.modelpress.core.TempFiles;


import java.nio.file.Path;

/**
 * A model written to a private temporary folder (with its external data) for ONNX Runtime to load, deleted on close.
 * ONNX Runtime needs a file to resolve external data; the user's folder is never written to.
 */
public final class TemporaryModel implements AutoCloseable {
    private final Path dir;
    private final Path file;

    public TemporaryModel(OnnxModel model) {
        dir = TempFiles.createDirectory("modelpress-");
        file = dir.resolve("model.onnx");
        try {
            model.write(file);
        } catch (RuntimeException e) {
            TempFiles.deleteTree(dir);
            throw e;
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        TempFiles.deleteTree(dir);
    }
}
