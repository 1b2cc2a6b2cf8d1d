package io.modelpress.devstack;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A service of the stack running in its own JVM, its output going to a log file. */
final class ChildJvm {

    /** How long a child lives. */
    enum Lifetime {
        /** Exits when the JVM that started it exits, however that one ends (used by tests). */
        TIED_TO_THIS_JVM,
        /** In its own session with no input: outlives the JVM that started it (used by {@code up}). */
        DETACHED
    }

    private static final Path SETSID = Path.of("/usr/bin/setsid");
    private static final int LOG_TAIL_LINES = 25;

    private final String name;
    private final ProcessHandle handle;
    /**
     * The started process, kept reachable so that its input pipe stays open: a tied child exits when that pipe
     * closes. Null for a child found again by its pid.
     */
    private final Process process;
    private final Path log;

    private ChildJvm(String name, ProcessHandle handle, Process process, Path log) {
        this.name = name;
        this.handle = handle;
        this.process = process;
        this.log = log;
    }

    /** Starts {@code mainClass} in a new JVM whose first option is {@code jvmTag}, which identifies it later. */
    static ChildJvm launch(
            String name, String jvmTag, List<Path> classpath, List<String> jvmOptions, String mainClass,
            List<String> arguments, Path log, Lifetime lifetime) {
        List<String> command = new ArrayList<>();
        if (lifetime == Lifetime.DETACHED && Files.isExecutable(SETSID)) {
            // A new session: the terminal's hang-up and Ctrl-C no longer reach the service.
            command.add(SETSID.toString());
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add(jvmTag);
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(String.join(File.pathSeparator, classpath.stream().map(Path::toString).toList()));
        if (lifetime == Lifetime.TIED_TO_THIS_JVM) {
            command.add(ExitWithParent.class.getName());
        }
        command.add(mainClass);
        command.addAll(arguments);

        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        if (lifetime == Lifetime.DETACHED) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        try {
            Process process = builder.start();
            return new ChildJvm(name, process.toHandle(), process, log);
        } catch (IOException e) {
            throw new DevStackException("Cannot start " + name + " (" + command.get(0) + "): " + e.getMessage(), e);
        }
    }

    /** A child started earlier, maybe by another JVM. */
    static ChildJvm adopt(String name, ProcessHandle handle, Path log) {
        return new ChildJvm(name, handle, null, log);
    }

    String name() {
        return name;
    }

    long pid() {
        return handle.pid();
    }

    boolean isAlive() {
        return handle.isAlive();
    }

    /** Why start-up failed, for a person: the exit code (when it exited) and the end of its log. */
    String describeFailure(String what) {
        StringBuilder message = new StringBuilder(name).append(' ').append(what);
        if (process != null && !process.isAlive()) {
            message.append(" (exit code ").append(process.exitValue()).append(')');
        }
        message.append(". Last lines of ").append(log).append(":\n").append(LogTail.of(log, LOG_TAIL_LINES));
        return message.toString();
    }

    /**
     * Stops the services together: asks each to stop (SIGTERM, on which it shuts down cleanly), then kills any that
     * has not exited once {@code grace} has passed.
     */
    static void stopAll(List<ChildJvm> children, Duration grace) {
        children.forEach(child -> child.handle.destroy());
        DevStackException failure = null;
        for (ChildJvm child : children) {
            try {
                child.awaitStopped(grace);
            } catch (DevStackException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void awaitStopped(Duration grace) {
        if (!awaitExit(grace)) {
            handle.destroyForcibly();
            if (!awaitExit(Duration.ofSeconds(10))) {
                throw new DevStackException(name + " (pid " + handle.pid() + ") did not exit even after SIGKILL");
            }
        }
    }

    private boolean awaitExit(Duration timeout) {
        try {
            handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            throw new DevStackException("Cannot wait for " + name + " to exit: " + e.getCause(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DevStackException("Interrupted while waiting for " + name + " to exit", e);
        }
    }

    /** Whether the log holds {@code marker}; logs at start-up are small, so reading them whole is cheap. */
    boolean logContains(String marker) {
        try {
            return Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(marker);
        } catch (IOException e) {
            return false;
        }
    }
}
