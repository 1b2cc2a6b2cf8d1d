package io.modelpress.core.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.TempFiles;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.stage.StageOutcome;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Stage results kept in a local folder, so that a stage whose inputs and settings were seen before is reused instead
 * of computed again ({@link StageKey} says what "the same" means). One folder per key holds the stage's model (none
 * for a stage that passes its input through, like eval) and its report; an entry appears whole or not at all (it is
 * written aside and renamed into place). The folder is bounded: after each store the least recently used entries are
 * deleted until the whole is at most {@code maxBytes}. Several processes may share a folder.
 */
public final class StageCache {
    /** 10 GiB. */
    public static final long DEFAULT_MAX_BYTES = 10L << 30;
    /** Environment variable: another folder for the CLI's cache, or {@value #OFF} to switch it off by default. */
    public static final String DIR_VARIABLE = "MODELPRESS_CACHE_DIR";
    public static final String OFF = "off";
    private static final String REPORT = "stage.json";
    private static final String MODEL = "model.onnx";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final long maxBytes;

    /** A cached result: its model (null: the stage's input passes through) and its report. */
    public record Entry(Path model, ObjectNode report, String gateFailure) {
    }

    public StageCache(Path dir, long maxBytes) {
        this.dir = dir.toAbsolutePath().normalize();
        this.maxBytes = maxBytes;
    }

    /**
     * The CLI's default folder: {@value #DIR_VARIABLE} when set (empty when it says {@value #OFF}), else
     * {@code $XDG_CACHE_HOME/modelpress/stages}, else {@code ~/.cache/modelpress/stages}.
     */
    public static Optional<Path> defaultDir() {
        String configured = System.getenv(DIR_VARIABLE);
        if (configured != null && !configured.isBlank()) {
            return configured.equalsIgnoreCase(OFF) ? Optional.empty() : Optional.of(Path.of(configured));
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return Optional.of(base.resolve("modelpress").resolve("stages"));
    }

    public Path dir() {
        return dir;
    }

    /** The entry of a key, marked as used now; empty when there is none (or it cannot be read: then it is recomputed). */
    public Optional<Entry> get(String key) {
        Path entry = dir.resolve(key);
        Path report = entry.resolve(REPORT);
        try {
            JsonNode json = JSON.readTree(report.toFile());
            Path model = json.path("passthrough").asBoolean() ? null : entry.resolve(MODEL);
            if (model != null && !Files.isRegularFile(model)) {
                return Optional.empty();
            }
            Files.setLastModifiedTime(report, FileTime.from(Instant.now()));
            return Optional.of(new Entry(model, (ObjectNode) json.get("report"),
                    json.path("gate_failure").isTextual() ? json.get("gate_failure").asText() : null));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // none, or unreadable: computed again and stored anew
        }
    }

    /**
     * Keeps a stage's outcome under its key (a key already present is left as it is), then evicts the least recently
     * used entries beyond the size bound.
     *
     * @param input the stage's input model: an outcome whose model is it is stored as a pass-through
     */
    public void put(String key, StageOutcome outcome, Path input) {
        try {
            Files.createDirectories(dir);
            if (Files.isDirectory(dir.resolve(key))) {
                return;
            }
            Path staging = Files.createTempDirectory(dir, ".incoming-");
            try {
                boolean passthrough = outcome.model().toAbsolutePath().normalize().equals(input.toAbsolutePath().normalize());
                if (!passthrough) {
                    OnnxModel.read(outcome.model()).write(staging.resolve(MODEL));
                }
                ObjectNode json = JSON.createObjectNode();
                json.put("passthrough", passthrough);
                json.set("report", outcome.report());
                json.put("gate_failure", outcome.gateFailure());
                JSON.writeValue(staging.resolve(REPORT).toFile(), json);
                try {
                    Files.move(staging, dir.resolve(key), StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
                    // another process stored the same key first: theirs stays
                }
            } finally {
                if (Files.exists(staging)) {
                    TempFiles.deleteTree(staging);
                }
            }
            evict(key);
        } catch (IOException | UncheckedIOException e) {
            // a cache that cannot be written costs time, never the run
            System.getLogger(StageCache.class.getName()).log(System.Logger.Level.WARNING,
                    "stage cache " + dir + ": cannot store an entry: " + e.getMessage());
        }
    }

    /** Deletes the least recently used entries (not {@code keep}) until the folder holds at most {@code maxBytes}. */
    private void evict(String keep) throws IOException {
        record Sized(Path entry, long bytes, FileTime used) {
        }
        List<Sized> entries = new ArrayList<>();
        long total = 0;
        try (Stream<Path> list = Files.list(dir)) {
            for (Path entry : list.filter(p -> !p.getFileName().toString().startsWith(".")).toList()) {
                long bytes = size(entry);
                total += bytes;
                Path report = entry.resolve(REPORT);
                entries.add(new Sized(entry, bytes, Files.exists(report) ? Files.getLastModifiedTime(report) : FileTime.fromMillis(0)));
            }
        }
        entries.sort(Comparator.comparing(Sized::used));
        for (Sized entry : entries) {
            if (total <= maxBytes) {
                break;
            }
            if (!entry.entry().getFileName().toString().equals(keep)) {
                TempFiles.deleteTree(entry.entry());
                total -= entry.bytes();
            }
        }
    }

    private static long size(Path entry) throws IOException {
        try (Stream<Path> files = Files.walk(entry)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        }
    }

    /** A clear error for a folder that cannot be a cache (a file, or not writable). */
    public static StageCache open(Path dir, long maxBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "cache folder " + dir, "cannot be created: " + e.getMessage(), e);
        }
        if (!Files.isWritable(dir)) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "cache folder " + dir, "is not writable (use --cache-dir or --no-cache)");
        }
        return new StageCache(dir, maxBytes);
    }
}
