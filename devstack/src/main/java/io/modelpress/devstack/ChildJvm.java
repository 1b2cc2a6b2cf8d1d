package io.modelpress.devstack;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one supervisor of the stacks' processes: Kafka and S3Proxy (devstack) and the ModelPress services (the local
 * stack) each run in a JVM of their own, started, found again and stopped here.
 *
 * <p>A child appends its output to {@code logs/<name>.log} of its {@link StackDirectory}, after a line saying when and
 * how it was started, and its pid goes to {@code pids/<name>.pid}. The first option on its command line is its tag,
 * {@code -Dmodelpress-launcher=<directory>#<name>}: a pid file is trusted only when the live process it names carries
 * the tag, so a pid the system has since given to another process is never signalled. (First, because the JDK
 * reports only the first 4096 characters of another process's command line, less than Kafka's classpath; not
 * "modelpress.", because the services reject unknown keys under their "modelpress" configuration root.)
 */
public final class ChildJvm {

    /** How long a child lives. */
    public enum Lifetime {
        /**
         * Exits when the JVM that started it exits, however that one ends (tests, benchmarks): it runs under
         * {@link ExitWithParent}, and a normal exit of this JVM stops it too.
         */
        TIED_TO_THIS_JVM,
        /** In its own session with no input: outlives the JVM that started it ({@code up}). */
        DETACHED
    }

    /**
     * What a child runs: {@code java <jvm options> -cp <classpath> <main class> <arguments>}, with extra environment
     * variables, in {@code workingDirectory} (null: this JVM's).
     */
    public record Launch(List<Path> classpath, String mainClass, List<String> arguments, List<String> jvmOptions,
                         Map<String, String> environment, Path workingDirectory) {
        public Launch {
            classpath = List.copyOf(classpath);
            arguments = List.copyOf(arguments);
            jvmOptions = List.copyOf(jvmOptions);
            environment = Map.copyOf(environment);
        }
    }

    static final String TAG_PROPERTY = "modelpress-launcher";
    private static final Path SETSID = Path.of("/usr/bin/setsid");
    private static final int LOG_TAIL_LINES = 30;
    /** How long tied children get to stop cleanly when this JVM exits normally, before they are killed. */
    private static final Duration TIED_EXIT_GRACE = Duration.ofSeconds(10);
    /** The tied children that run; their Process objects hold the input pipes whose closing makes them exit. */
    private static final Map<Long, Process> TIED = new ConcurrentHashMap<>();

    static {
        // A tied child also exits by itself when this JVM's end closes its input, but one whose shutdown hangs would
        // linger for ExitWithParent's halt timeout: on a normal exit, stop them here and kill what does not stop.
        Runtime.getRuntime().addShutdownHook(new Thread(ChildJvm::stopTiedChildren, "stop-tied-children"));
    }

    private final StackDirectory directory;
    private final String name;
    private final ProcessHandle handle;
    /** The started process, for its exit code; null for a child found again through its pid file. */
    private final Process process;
    /** Where this start's output begins in the log (earlier starts' output comes before it). */
    private final long logStart;

    private ChildJvm(StackDirectory directory, String name, ProcessHandle handle, Process process, long logStart) {
        this.directory = directory;
        this.name = name;
        this.handle = handle;
        this.process = process;
        this.logStart = logStart;
    }

    /** Starts a child and writes its pid file; returns at once, before the child is ready. */
    public static ChildJvm start(StackDirectory directory, String name, Launch launch, Lifetime lifetime) {
        List<String> command = new ArrayList<>();
        if (lifetime == Lifetime.DETACHED && Files.isExecutable(SETSID)) {
            // a new session: the terminal's hang-up and Ctrl-C no longer reach the child
            command.add(SETSID.toString());
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add(directory.tag(name));
        command.addAll(launch.jvmOptions());
        List<Path> classpath = new ArrayList<>(launch.classpath());
        if (lifetime == Lifetime.TIED_TO_THIS_JVM && !classpath.contains(Classpaths.devstackClasses())) {
            classpath.add(Classpaths.devstackClasses());
        }
        command.add("-cp");
        command.add(String.join(File.pathSeparator, classpath.stream().map(Path::toString).toList()));
        if (lifetime == Lifetime.TIED_TO_THIS_JVM) {
            command.add(ExitWithParent.class.getName());
        }
        command.add(launch.mainClass());
        command.addAll(launch.arguments());

        Path log = directory.log(name);
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        if (launch.workingDirectory() != null) {
            builder.directory(launch.workingDirectory().toFile());
        }
        if (lifetime == Lifetime.DETACHED) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        builder.environment().putAll(launch.environment());
        try {
            directory.createDirectories();
            Files.writeString(log, "=== " + Instant.now() + " starting " + name + ": " + String.join(" ", command) + "\n",
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            long logStart = Files.size(log);
            Process process = builder.start();
            if (lifetime == Lifetime.TIED_TO_THIS_JVM) {
                TIED.put(process.pid(), process);
                process.onExit().thenRun(() -> TIED.remove(process.pid()));
            }
            ChildJvm child = new ChildJvm(directory, name, process.toHandle(), process, logStart);
            directory.writePid(name, process.pid());
            return child;
        } catch (IOException e) {
            throw new DevStackException("Cannot start " + name + " (" + command.get(0) + "): " + e.getMessage(), e);
        }
    }

    /** The live child its pid file names, if that process carries the tag of this directory and name. */
    public static Optional<ChildJvm> find(StackDirectory directory, String name) {
        String tag = directory.tag(name) + " ";
        return directory.readPid(name)
                .flatMap(ProcessHandle::of)
                .filter(ProcessHandle::isAlive)
                .filter(process -> process.info().commandLine().map(line -> line.contains(tag)).orElse(false))
                .map(process -> new ChildJvm(directory, name, process, null, 0));
    }

    public String name() {
        return name;
    }

    public long pid() {
        return handle.pid();
    }

    public boolean isAlive() {
        return handle.isAlive();
    }

    public Path log() {
        return directory.log(name);
    }

    /**
     * Why start-up failed, for a person: {@code what} happened (e.g. "Kafka broker exited during start-up"), the exit
     * code (when it exited) and the end of its log.
     */
    public String describeFailure(String what) {
        StringBuilder message = new StringBuilder(what);
        if (process != null && !process.isAlive()) {
            message.append(" (exit code ").append(process.exitValue()).append(')');
        }
        message.append(". Last lines of ").append(log()).append(":\n").append(LogTail.of(log(), LOG_TAIL_LINES));
        return message.toString();
    }

    /** Whether this start's output holds {@code marker}; output at start-up is small, so reading it whole is cheap. */
    boolean logContains(String marker) {
        try (InputStream in = Files.newInputStream(log())) {
            in.skipNBytes(logStart);
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1).contains(marker);
        } catch (IOException e) {
            return false;
        }
    }

    /** Stops this child: see {@link #stopAll}. */
    public void stop(Duration grace) {
        stopAll(List.of(this), grace);
    }

    /**
     * Stops children together: asks each to stop (SIGTERM, on which it shuts down cleanly), kills any that has not
     * exited once {@code grace} has passed, and deletes their pid files.
     */
    public static void stopAll(List<ChildJvm> children, Duration grace) {
        children.forEach(child -> child.handle.destroy());
        DevStackException failure = null;
        for (ChildJvm child : children) {
            try {
                if (!child.awaitExit(grace)) {
                    child.kill();
                }
                child.directory.deletePid(child.name, child.pid());
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

    /** SIGKILL at once, what a crash looks like to the rest of the stack (tests use it); the pid file stays. */
    public void kill() {
        handle.destroyForcibly();
        if (!awaitExit(Duration.ofSeconds(10))) {
            throw new DevStackException(name + " (pid " + handle.pid() + ") did not exit even after SIGKILL");
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
            handle.destroyForcibly();
            throw new DevStackException("Interrupted while waiting for " + name + " to exit; killed it", e);
        }
    }

    private static void stopTiedChildren() {
        List<Process> children = List.copyOf(TIED.values());
        children.forEach(Process::destroy);
        long deadline = System.nanoTime() + TIED_EXIT_GRACE.toNanos();
        for (Process child : children) {
            try {
                if (!child.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    child.destroyForcibly();
                }
            } catch (InterruptedException e) {
                child.destroyForcibly();
            }
        }
    }
}
