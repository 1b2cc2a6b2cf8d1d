package io.modelpress.cli.stack;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Where a local stack keeps its state (default {@code <project>/.modelpress}):
 * <pre>
 * devstack/            Kafka and S3Proxy: data, logs, pid files, endpoints.properties (managed by devstack)
 * logs/&lt;service&gt;.log   each service's output, appended to at every start
 * pids/&lt;service&gt;.pid   the pid of each running service (removed when it is stopped)
 * uploads/             where the orchestrator streams models uploaded to its API (each deleted after its request)
 * stack.properties     the endpoints of the running stack (API URL, ports); removed by down
 * </pre>
 */
public record StackDirectory(Path root) {
    public static final String API_URL = "api.url";

    public StackDirectory {
        root = root.toAbsolutePath().normalize();
    }

    public Path devstack() {
        return root.resolve("devstack");
    }

    public Path devstackEndpoints() {
        return devstack().resolve("endpoints.properties");
    }

    public Path log(Service service) {
        return root.resolve("logs").resolve(service.id() + ".log");
    }

    public Path logs() {
        return root.resolve("logs");
    }

    public Path pidFile(Service service) {
        return root.resolve("pids").resolve(service.id() + ".pid");
    }

    /** The orchestrator's upload directory: inside the stack's folder, so it belongs to whoever runs the stack. */
    public Path uploads() {
        return root.resolve("uploads");
    }

    public Path stackProperties() {
        return root.resolve("stack.properties");
    }

    public void createDirectories() {
        try {
            Files.createDirectories(root.resolve("logs"));
            Files.createDirectories(root.resolve("pids"));
            Files.createDirectories(uploads());
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, root.toString(), "cannot create the stack directory: " + e.getMessage(), e);
        }
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
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be read: " + e.getMessage(), e);
        }
        Map<String, String> map = new TreeMap<>();
        properties.stringPropertyNames().forEach(name -> map.put(name, properties.getProperty(name)));
        return Optional.of(map);
    }

    public void writeStackProperties(Map<String, String> values) {
        Path file = stackProperties();
        try {
            Path tmp = Files.createTempFile(root, "stack", ".part");
            try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                out.write("# the running ModelPress stack (written by 'modelpress up', removed by 'modelpress down')\n");
                for (Map.Entry<String, String> entry : new TreeMap<>(values).entrySet()) {
                    out.write(entry.getKey() + "=" + entry.getValue() + "\n");
                }
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be written: " + e.getMessage(), e);
        }
    }

    public void deleteStackProperties() {
        try {
            Files.deleteIfExists(stackProperties());
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, stackProperties().toString(), "cannot be deleted: " + e.getMessage(), e);
        }
    }
}
