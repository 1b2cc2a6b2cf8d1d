package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

/** The files a model consists of (the .onnx plus its external data files) and their plain and gzip sizes. */
public final class ModelFiles {
    private ModelFiles() {
    }

    /** Reads and validates the model (clear errors for broken files), then measures its files. */
    public static EvaluationReport.Size measure(Path model) {
        Set<Path> files = new LinkedHashSet<>();
        files.add(model.toAbsolutePath().normalize());
        files.addAll(OnnxModel.read(model).externalFiles());
        long bytes = 0;
        long compressed = 0;
        for (Path file : files) {
            try {
                bytes += Files.size(file);
                compressed += gzipSize(file);
            } catch (IOException e) {
                throw new ModelPressException(ErrorCode.IO_ERROR, "file " + file.getFileName(), "cannot be read: " + e.getMessage(), e);
            }
        }
        return new EvaluationReport.Size(bytes, compressed);
    }

    /** Size of the file's gzip encoding, computed while streaming (nothing is kept). */
    public static long gzipSize(Path file) throws IOException {
        CountingSink sink = new CountingSink();
        try (InputStream in = Files.newInputStream(file); OutputStream gzip = new GZIPOutputStream(sink, 1 << 16)) {
            in.transferTo(gzip);
        }
        return sink.count;
    }

    private static final class CountingSink extends OutputStream {
        long count;

        @Override
        public void write(int b) {
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            count += len;
        }
    }
}
