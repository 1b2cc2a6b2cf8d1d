package io.modelpress.devstack;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a stack keeps its files: {@code kafka/} (config, {@code data/}), {@code s3/} (config, {@code data/} with
 * one directory per bucket), {@code logs/<service>.log}, {@code <service>.pid} and {@code endpoints.properties}.
 */
record StackDirectory(Path root) {

    static final String KAFKA = "kafka";
    static final String S3PROXY = "s3proxy";

    StackDirectory {
        root = root.toAbsolutePath().normalize();
    }

    Path kafkaHome() {
        return root.resolve("kafka");
    }

    Path s3Home() {
        return root.resolve("s3");
    }

    Path log(String service) {
        return root.resolve("logs").resolve(service + ".log");
    }

    Path pidFile(String service) {
        return root.resolve(service + ".pid");
    }

    Path endpointsFile() {
        return root.resolve("endpoints.properties");
    }

    void createDirectories() {
        try {
            Files.createDirectories(kafkaHome());
            Files.createDirectories(s3Home());
            Files.createDirectories(root.resolve("logs"));
        } catch (IOException e) {
            throw new DevStackException("Cannot create the devstack directory " + root + ": " + e.getMessage(), e);
        }
    }

    void writePid(String service, long pid) {
        try {
            Files.writeString(pidFile(service), pid + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DevStackException("Cannot write " + pidFile(service) + ": " + e.getMessage(), e);
        }
    }

    void deletePid(String service) {
        try {
            Files.deleteIfExists(pidFile(service));
        } catch (IOException e) {
            throw new DevStackException("Cannot delete " + pidFile(service) + ": " + e.getMessage(), e);
        }
    }

    /**
     * The live process its pid file names, if that process is this stack's: a pid file can outlive its process, and
     * the system may since have given the pid to an unrelated one.
     */
    Optional<ProcessHandle> runningProcess(String service) {
        Path pidFile = pidFile(service);
        if (!Files.isRegularFile(pidFile)) {
            return Optional.empty();
        }
        long pid;
        try {
            pid = Long.parseLong(Files.readString(pidFile, StandardCharsets.UTF_8).trim());
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid)
                .filter(ProcessHandle::isAlive)
                .filter(process -> process.info().commandLine()
                        .map(line -> line.contains(jvmTag() + " "))
                        .orElse(true));
    }

    /**
     * The JVM option that marks the stack's services as this directory's. It goes first on their command lines:
     * the JDK reports only the first 4096 characters of another process's command line, less than Kafka's classpath.
     */
    String jvmTag() {
        return "-Dmodelpress.devstack.dir=" + root;
    }
}
