package io.modelpress.cli.stack;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.devstack.LogTail;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One service process of a local stack: started from its fast-jar, found again through its pid file, asked for its
 * health, stopped with SIGTERM and, after a grace period, SIGKILL.
 *
 * <p>Every process carries a tag on its command line ({@code -Dmodelpress-launcher=<stack dir>#<service>}; not "modelpress.": the services reject unknown keys under their "modelpress" config root) that is
 * checked before a pid file is trusted, so a reused pid never gets a signal meant for a stopped service.
 */
public final class ServiceProcess {
    /** How a process relates to the JVM that starts it. */
    public enum Lifetime {
        /** Its own session, input from /dev/null: it outlives the launcher (the {@code up} command). */
        DETACHED,
        /** Exits when the starting JVM ends, however it ends (tests, benchmarks): devstack's ExitWithParent. */
        TIED_TO_THIS_JVM
    }

    public static final String TAG_PROPERTY = "modelpress-launcher";
    private static final String QUARKUS_MAIN = "io.quarkus.bootstrap.runner.QuarkusEntryPoint";
    private static final String EXIT_WITH_PARENT = "io.modelpress.devstack.ExitWithParent";
    private static final Path SETSID = Path.of("/usr/bin/setsid");
    private static final int LOG_TAIL_LINES = 30;
    /** Tied children: their standard input is the pipe whose end tells them to exit, so the Process must stay reachable. */
    private static final Map<Long, Process> TIED = new ConcurrentHashMap<>();
    /** How long tied children get to stop cleanly when this JVM exits, before they are killed. */
    private static final Duration TIED_EXIT_GRACE = Duration.ofSeconds(10);

    static {
        // A tied child also exits by itself when this JVM's end closes its input (ExitWithParent), but a service
        // whose shutdown hangs would then linger: on a normal exit, stop them here, and kill what does not stop.
        Runtime.getRuntime().addShutdownHook(new Thread(ServiceProcess::stopTiedChildren, "stop-tied-services"));
    }
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Service service;
    private final ProcessHandle handle;
    private final int port;
    private final Path log;

    private ServiceProcess(Service service, ProcessHandle handle, int port, Path log) {
        this.service = service;
        this.handle = handle;
        this.port = port;
        this.log = log;
    }

    /**
     * Starts a service; returns at once (see {@link #awaitReady}). The pid file is written before this returns.
     *
     * @param env  the service's configuration as environment variables (endpoints, port, ...)
     * @param jvm  JVM options besides the heap
     */
    public static ServiceProcess start(Service service, Path jar, int port, Map<String, String> env, List<String> jvm,
                                       StackDirectory directory, Lifetime lifetime) {
        if (!Files.isRegularFile(jar)) {
            throw new ModelPressException(ErrorCode.IO_ERROR, service.id(), "its application " + jar
                    + " does not exist; build it with ./mvnw -q -pl " + service.module() + " -am package -DskipTests");
        }
        Path log = directory.log(service);
        List<String> command = new ArrayList<>();
        if (lifetime == Lifetime.DETACHED && Files.isExecutable(SETSID)) {
            command.add(SETSID.toString());
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-D" + TAG_PROPERTY + "=" + tag(directory, service));
        command.add("-Xmx" + service.heap());
        command.add("-Dai.djl.offline=true");
        command.addAll(jvm);
        if (lifetime == Lifetime.TIED_TO_THIS_JVM) {
            command.addAll(List.of("-cp", jar + File.pathSeparator + exitWithParentJar(), EXIT_WITH_PARENT, QUARKUS_MAIN));
        } else {
            command.addAll(List.of("-jar", jar.toString()));
        }
        ProcessBuilder builder = new ProcessBuilder(command).directory(jar.getParent().toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        if (lifetime == Lifetime.DETACHED) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        builder.environment().putAll(env);
        try {
            Files.createDirectories(log.getParent());
            Files.writeString(log, "=== " + Instant.now() + " starting " + service.id() + " on port " + port + ": "
                    + String.join(" ", command) + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            Process process = builder.start();
            if (lifetime == Lifetime.TIED_TO_THIS_JVM) {
                TIED.put(process.pid(), process);
                process.onExit().thenRun(() -> TIED.remove(process.pid()));
            }
            Files.createDirectories(directory.pidFile(service).getParent());
            Files.writeString(directory.pidFile(service), process.pid() + "\n", StandardCharsets.UTF_8);
            return new ServiceProcess(service, process.toHandle(), port, log);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, service.id(), "cannot be started: " + e.getMessage(), e);
        }
    }

    /** The running process of a service according to its pid file, or empty when it does not run. */
    public static Optional<ServiceProcess> find(Service service, int port, StackDirectory directory) {
        Path pidFile = directory.pidFile(service);
        long pid;
        try {
            pid = Long.parseLong(Files.readString(pidFile, StandardCharsets.UTF_8).trim());
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
        String expected = "-D" + TAG_PROPERTY + "=" + tag(directory, service);
        return ProcessHandle.of(pid)
                .filter(ProcessHandle::isAlive)
                .filter(h -> h.info().arguments().map(args -> Arrays.asList(args).contains(expected)).orElse(false))
                .map(h -> new ServiceProcess(service, h, port, directory.log(service)));
    }

    private static String tag(StackDirectory directory, Service service) {
        return directory.root() + "#" + service.id();
    }

    /** The jar holding devstack's ExitWithParent (on this JVM's class path: the CLI depends on devstack). */
    private static Path exitWithParentJar() {
        try {
            Class<?> type = Class.forName(EXIT_WITH_PARENT);
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (ClassNotFoundException | URISyntaxException e) {
            throw new IllegalStateException("devstack's ExitWithParent is not on the class path", e);
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

    public Service service() {
        return service;
    }

    public long pid() {
        return handle.pid();
    }

    public int port() {
        return port;
    }

    public Path log() {
        return log;
    }

    public boolean isAlive() {
        return handle.isAlive();
    }

    /** What /q/health/ready says: 200 (ready), 503 (a check is down), or -1 when nothing answers. */
    public int readiness() {
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready"))
                    .timeout(Duration.ofSeconds(5)).build();
            return HTTP.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /**
     * Waits until the service answers ready. A process that exits, or is not ready in time, is stopped and reported
     * with the end of its log.
     */
    public void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!handle.isAlive()) {
                throw failure("exited during start-up");
            }
            if (readiness() == 200) {
                return;
            }
            if (System.nanoTime() > deadline) {
                stop(Duration.ofSeconds(10));
                throw failure("did not become ready within " + timeout.toSeconds() + " s");
            }
            sleep(Duration.ofMillis(250));
        }
    }

    private ModelPressException failure(String what) {
        return new ModelPressException(ErrorCode.IO_ERROR, service.id(), what + " (port " + port + "). Last lines of "
                + log + ":\n" + LogTail.of(log, LOG_TAIL_LINES));
    }

    /** SIGTERM, then SIGKILL when it has not exited within the grace period. Removes nothing: see {@link Stack}. */
    public void stop(Duration grace) {
        if (!handle.isAlive()) {
            return;
        }
        handle.destroy();
        try {
            handle.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            handle.destroyForcibly();
            awaitExit(Duration.ofSeconds(10));
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            handle.destroyForcibly();
        }
    }

    /** SIGKILL at once: what a crash looks like to the rest of the pipeline (tests use it). */
    public void kill() {
        handle.destroyForcibly();
        awaitExit(Duration.ofSeconds(10));
    }

    private void awaitExit(Duration timeout) {
        try {
            handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, service.id(), "pid " + handle.pid() + " did not exit after SIGKILL");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelPressException(ErrorCode.IO_ERROR, "interrupted while waiting for a service");
        }
    }
}
