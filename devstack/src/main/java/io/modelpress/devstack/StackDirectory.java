package io.modelpress.devstack;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Where a stack keeps its files. Every stack's processes ({@link ChildJvm}) have their output in
 * {@code logs/<name>.log} and their pid in {@code pids/<name>.pid}. Besides:
 * <pre>
 * devstack                     kafka/ (config, data/), s3/ (config, data/&lt;bucket&gt;/), endpoints.properties
 * the local ModelPress stack   devstack/ (a devstack's directory), uploads/ (the orchestrator's upload folder),
 * (default .modelpress)        stack.properties (the endpoints and ports of the running stack)
 * </pre>
 */
public record StackDirectory(Path root) {

    /** The key of the orchestrator's URL in {@link #stackProperties()}. */
    public static final String API_URL = "api.url";

    public StackDirectory {
        root = root.toAbsolutePath().normalize();
    }

    public Path logs() {
        return root.resolve("logs");
    }

    public Path log(String name) {
        return logs().resolve(name + ".log");
    }

    public Path pidFile(String name) {
        return root.resolve("pids").resolve(name + ".pid");
    }

    /** Creates the folders every stack uses: {@code logs/} and {@code pids/}. */
    public void createDirectories() {
        try {
            Files.createDirectories(logs());
            Files.createDirectories(root.resolve("pids"));
        } catch (IOException e) {
            throw new DevStackException("Cannot create the stack directory " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * The JVM option that marks a process as this directory's {@code name}; see {@link ChildJvm}. The option's value
     * names the directory first, so {@code -Dmodelpress-launcher=<root>#} marks all of its processes.
     */
    String tag(String name) {
        return "-D" + ChildJvm.TAG_PROPERTY + "=" + root + "#" + name;
    }

    void writePid(String name, long pid) {
        try {
            Files.writeString(pidFile(name), pid + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DevStackException("Cannot write " + pidFile(name) + ": " + e.getMessage(), e);
        }
    }

    /** The pid its pid file names; empty when there is no pid file or it holds no number. */
    Optional<Long> readPid(String name) {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile(name), StandardCharsets.UTF_8).trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Deletes the pid file of a process that does not run (nothing when there is none). */
    public void deletePid(String name) {
        try {
            Files.deleteIfExists(pidFile(name));
        } catch (IOException e) {
            throw new DevStackException("Cannot delete " + pidFile(name) + ": " + e.getMessage(), e);
        }
    }

    /** Deletes the pid file if it still names {@code pid}: a successor started meanwhile keeps its own. */
    void deletePid(String name, long pid) {
        if (readPid(name).filter(recorded -> recorded == pid).isPresent()) {
            deletePid(name);
        }
    }

    // ---------------------------------------------------------------- devstack

    Path kafkaHome() {
        return root.resolve("kafka");
    }

    Path s3Home() {
        return root.resolve("s3");
    }

    /** Where devstack writes its {@link Endpoints} while it runs. */
    public Path endpointsFile() {
        return root.resolve("endpoints.properties");
    }

    // ---------------------------------------------------------------- the local ModelPress stack

    /** The directory of the stack's devstack. */
    public StackDirectory devstack() {
        return new StackDirectory(root.resolve("devstack"));
    }

    /** The orchestrator's upload directory: inside the stack's folder, so it belongs to whoever runs the stack. */
    /** The local stack's API token (created by the stack when it starts the orchestrator; readable by its owner only). */
    public Path apiToken() {
        return root.resolve("api-token");
    }

    public Path uploads() {
        return root.resolve("uploads");
    }

    public Path stackProperties() {
        return root.resolve("stack.properties");
    }

    /** The properties of the running stack, empty when none was started here (or it was stopped). */
    public Optional<Map<String, String>> readStackProperties() {
        Path file = stackProperties();
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(in);
        } catch (IOException e) {
            throw new DevStackException("Cannot read " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> map = new TreeMap<>();
        properties.stringPropertyNames().forEach(name -> map.put(name, properties.getProperty(name)));
        return Optional.of(map);
    }

    public void writeStackProperties(Map<String, String> values) {
        Path file = stackProperties();
        try {
            Files.createDirectories(root);
            Path tmp = Files.createTempFile(root, "stack", ".part");
            try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                out.write("# the running ModelPress stack (written by 'modelpress up', removed by 'modelpress down')\n");
                for (Map.Entry<String, String> entry : new TreeMap<>(values).entrySet()) {
                    out.write(entry.getKey() + "=" + entry.getValue() + "\n");
                }
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new DevStackException("Cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    public void deleteStackProperties() {
        try {
            Files.deleteIfExists(stackProperties());
        } catch (IOException e) {
            throw new DevStackException("Cannot delete " + stackProperties() + ": " + e.getMessage(), e);
        }
    }
}
