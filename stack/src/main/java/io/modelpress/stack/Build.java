package io.modelpress.stack;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Builds the stack's applications when they are missing or older than their sources: the devstack jar and the
 * services' fast-jars, with one Maven run through the project's wrapper ({@code ./mvnw}).
 */
public final class Build {
    /** Modules the services are built from, besides their own (worker-service only for the workers; checking it for the
     * orchestrator too costs at most one needless build). */
    private static final List<String> SHARED_MODULES = List.of("core", "train", "pipeline", "worker-service");

    private Build() {
    }

    /** The devstack jar under the project root, if it has been built. */
    public static Optional<Path> devstackJar(Path projectRoot) {
        Path target = projectRoot.resolve("devstack/target");
        if (!Files.isDirectory(target)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.list(target)) {
            return files.filter(f -> {
                String name = f.getFileName().toString();
                return name.startsWith("modelpress-devstack-") && name.endsWith(".jar") && !name.endsWith("-tests.jar")
                        && !name.endsWith("-sources.jar");
            }).findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Maven modules whose application is missing or older than a source it is built from. */
    public static List<String> staleModules(Path projectRoot) {
        List<String> stale = new ArrayList<>();
        outputs(projectRoot).forEach((module, output) -> {
            List<String> inputs = new ArrayList<>(List.of(module));
            if (!module.equals("devstack")) {
                inputs.addAll(SHARED_MODULES);
            }
            if (output.isEmpty() || newerSource(projectRoot, inputs, modified(output.get()))) {
                stale.add(module);
            }
        });
        return stale;
    }

    /** Each module's application (empty when not built). */
    private static Map<String, Optional<Path>> outputs(Path projectRoot) {
        Map<String, Optional<Path>> outputs = new LinkedHashMap<>();
        outputs.put("devstack", devstackJar(projectRoot));
        for (Service service : Service.values()) {
            Path jar = service.jar(projectRoot);
            outputs.put(service.module(), Files.isRegularFile(jar) ? Optional.of(jar) : Optional.empty());
        }
        return outputs;
    }

    /** Builds what is stale; does nothing when everything is current. Maven's output goes to {@code log}. */
    public static void ensureBuilt(Path projectRoot, PrintWriter log) {
        List<String> stale = staleModules(projectRoot);
        if (stale.isEmpty()) {
            return;
        }
        Path mvnw = projectRoot.resolve("mvnw");
        if (!Files.isExecutable(mvnw)) {
            throw new ModelPressException(ErrorCode.IO_ERROR, String.join(", ", stale), "must be built, but " + mvnw
                    + " is missing; run modelpress from a checkout of the project");
        }
        log.println("building " + String.join(", ", stale) + " (missing or older than their sources) ...");
        log.flush();
        List<String> command = List.of(mvnw.toString(), "-q", "-B", "-DskipTests", "package", "-pl", String.join(",", stale), "-am");
        try {
            Process maven = new ProcessBuilder(command).directory(projectRoot.toFile()).redirectErrorStream(true).start();
            try (var out = maven.getInputStream()) {
                out.transferTo(new java.io.OutputStream() {
                    @Override
                    public void write(int b) {
                        log.write(b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) {
                        log.write(new String(b, off, len, java.nio.charset.StandardCharsets.UTF_8));
                        log.flush();
                    }
                });
            }
            int exit = maven.waitFor();
            if (exit != 0) {
                throw new ModelPressException(ErrorCode.IO_ERROR, String.join(", ", stale), "the build failed (exit code " + exit
                        + "); see Maven's output above. After classes were moved or deleted, old ones left in target/ can "
                        + "break it: ./mvnw -q clean package -DskipTests -pl " + String.join(",", stale) + " -am");
            }
            // Maven leaves an archive untouched when its classes did not change (a pom edit, say): mark the outputs
            // current so the next check does not build again
            for (Path output : outputs(projectRoot).values().stream().flatMap(Optional::stream).toList()) {
                Files.setLastModifiedTime(output, FileTime.fromMillis(System.currentTimeMillis()));
            }
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, mvnw.toString(), "cannot run: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelPressException(ErrorCode.IO_ERROR, "the build was interrupted");
        }
    }

    private static boolean newerSource(Path root, List<String> modules, FileTime built) {
        if (newer(root.resolve("pom.xml"), built)) {
            return true;
        }
        for (String module : modules) {
            Path dir = root.resolve(module);
            if (newer(dir.resolve("pom.xml"), built)) {
                return true;
            }
            Path src = dir.resolve("src/main");
            if (Files.isDirectory(src)) {
                try (Stream<Path> files = Files.walk(src)) {
                    if (files.anyMatch(f -> Files.isRegularFile(f) && newer(f, built))) {
                        return true;
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        return false;
    }

    private static boolean newer(Path file, FileTime than) {
        return Files.isRegularFile(file) && modified(file).compareTo(than) > 0;
    }

    private static FileTime modified(Path file) {
        try {
            return Files.getLastModifiedTime(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
