package io.modelpress.core.cache;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.Sha256;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.StageSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * What makes two stage executions the same, as a SHA-256: the code (ModelPress's version and the stage's own code),
 * the stage type and its parameters (in canonical order), the input model, the original model (the teacher of
 * distill, the reference of eval), every data file and the tokenizer (by content), and the input hints. Thread
 * counts are left out: they change how fast, not what.
 */
public final class StageKey {
    /** Content hashes of files already hashed in this process, by path, size and modification time. */
    private static final Map<String, String> FILE_HASHES = new ConcurrentHashMap<>();

    private StageKey() {
    }

    /** @param stageClass the stage's implementation (its code's identity is part of the key) */
    public static String of(StageSpec spec, Class<?> stageClass, Path input, Path original, List<Path> data, Path tokenizer,
                            InputHints hints) {
        return ofHashes(spec, stageClass, model(input), model(original), data.stream().map(StageKey::tree).toList(),
                tokenizer == null ? null : tree(tokenizer), hints);
    }

    /**
     * The key from content hashes known already (the pipeline's artifacts carry their SHA-256), so that a hit needs
     * no download.
     *
     * @param tokenizer null when there is none
     */
    public static String ofHashes(StageSpec spec, Class<?> stageClass, String input, String original, List<String> data,
                                  String tokenizer, InputHints hints) {
        MessageDigest digest = Sha256.digest();
        field(digest, "key", "modelpress-stage-cache-1");
        field(digest, "code", codeVersion(StageKey.class) + "/" + codeVersion(stageClass));
        field(digest, "type", spec.type());
        field(digest, "params", canonical(spec.params()));
        field(digest, "input", input);
        field(digest, "original", original);
        for (String file : data) {
            field(digest, "data", file);
        }
        field(digest, "tokenizer", tokenizer == null ? "-" : tokenizer);
        field(digest, "hints", hints == null ? "-" : canonical(new TreeMap<>(Map.of("shapes", canonicalShapes(hints), "values",
                new TreeMap<>(hints.values())))));
        return Sha256.hex(digest);
    }

    /** A model's .onnx file and its external data files. */
    private static String model(Path model) {
        StringBuilder hashes = new StringBuilder(file(model));
        for (Path external : OnnxModel.read(model).externalFiles()) {
            hashes.append('+').append(file(external));
        }
        return hashes.toString();
    }

    /** A file's hash, or a folder's: every file under it by relative name and content, in name order. */
    private static String tree(Path path) {
        if (!Files.isDirectory(path)) {
            return file(path);
        }
        try (Stream<Path> files = Files.walk(path)) {
            MessageDigest digest = Sha256.digest();
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                field(digest, path.relativize(f).toString(), file(f));
            }
            return Sha256.hex(digest);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, path.toString(), "cannot be read: " + e.getMessage(), e);
        }
    }

    private static String file(Path file) {
        try {
            Path real = file.toRealPath();
            String id = real + "|" + Files.size(real) + "|" + Files.getLastModifiedTime(real).toMillis();
            return FILE_HASHES.computeIfAbsent(id, k -> contentHash(real));
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be read: " + e.getMessage(), e);
        }
    }

    private static String contentHash(Path file) {
        try {
            return Sha256.of(file);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * The identity of the code a class comes from: a release's version, or for a snapshot or a folder of classes
     * (development, tests) the jar's or folder's hash-like stamp, so that changed code never reuses old results.
     */
    static String codeVersion(Class<?> type) {
        String version = type.getPackage() == null ? null : type.getPackage().getImplementationVersion();
        if (version != null && !version.endsWith("SNAPSHOT")) {
            return version;
        }
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return "unknown:" + type.getName();
        }
        try {
            Path location = Path.of(source.getLocation().toURI());
            if (Files.isRegularFile(location)) {
                return file(location);
            }
            try (Stream<Path> files = Files.walk(location)) {
                long newest = files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().lastModified()).max().orElse(0);
                return location + "@" + newest;
            }
        } catch (Exception e) {
            return "unknown:" + type.getName();
        }
    }

    private static Map<String, String> canonicalShapes(InputHints hints) {
        Map<String, String> shapes = new TreeMap<>();
        hints.shapes().forEach((name, dims) -> shapes.put(name, Arrays.toString(dims)));
        return shapes;
    }

    /** Maps with sorted keys, recursively; lists in order; values by their text with their type. */
    private static String canonical(Object value) {
        if (value instanceof Map<?, ?> map) {
            Map<String, Object> sorted = new TreeMap<>();
            map.forEach((k, v) -> sorted.put(String.valueOf(k), v));
            StringBuilder out = new StringBuilder("{");
            sorted.forEach((k, v) -> out.append(k).append('=').append(canonical(v)).append(';'));
            return out.append('}').toString();
        }
        if (value instanceof List<?> list) {
            StringBuilder out = new StringBuilder("[");
            list.forEach(v -> out.append(canonical(v)).append(';'));
            return out.append(']').toString();
        }
        return value == null ? "null" : value.getClass().getSimpleName() + ":" + value;
    }

    private static void field(MessageDigest digest, String name, String value) {
        byte[] bytes = (name + "\u0000" + value + "\u0000").getBytes(StandardCharsets.UTF_8);
        digest.update(bytes);
    }
}
