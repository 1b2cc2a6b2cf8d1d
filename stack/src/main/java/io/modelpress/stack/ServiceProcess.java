package io.modelpress.stack;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.devstack.ChildJvm;
import io.modelpress.devstack.ChildJvm.Lifetime;
import io.modelpress.devstack.StackDirectory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One service process of a local stack: its fast-jar run by devstack's {@link ChildJvm} (which writes its pid file
 * and log, finds it again and stops it), and its HTTP port, where it answers whether it is ready.
 */
public final class ServiceProcess {
    private static final String QUARKUS_MAIN = "io.quarkus.bootstrap.runner.QuarkusEntryPoint";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    static final String LIBTORCH_CPU_ISA = "DNNL_MAX_CPU_ISA";

    private final Service service;
    private final ChildJvm child;
    private final int port;

    private ServiceProcess(Service service, ChildJvm child, int port) {
        this.service = service;
        this.child = child;
        this.port = port;
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
        List<String> options = new ArrayList<>(List.of("-Xmx" + service.heap(), "-Dai.djl.offline=true"));
        options.addAll(jvm);
        Map<String, String> environment = new HashMap<>(env);
        // libtorch's AVX-512 CPU convolution now and then returns NaN while distilling; AVX2 does not
        // (docs/operations.md). An explicit setting, here or in this process's environment, wins.
        if (System.getenv(LIBTORCH_CPU_ISA) == null) {
            environment.putIfAbsent(LIBTORCH_CPU_ISA, "AVX2");
        }
        ChildJvm child = ChildJvm.start(directory, service.id(),
                new ChildJvm.Launch(List.of(jar), QUARKUS_MAIN, List.of(), options, environment, jar.getParent()),
                lifetime);
        return new ServiceProcess(service, child, port);
    }

    /** The running process of a service according to its pid file, or empty when it does not run. */
    public static Optional<ServiceProcess> find(Service service, int port, StackDirectory directory) {
        return ChildJvm.find(directory, service.id()).map(child -> new ServiceProcess(service, child, port));
    }

    public Service service() {
        return service;
    }

    public long pid() {
        return child.pid();
    }

    public int port() {
        return port;
    }

    public Path log() {
        return child.log();
    }

    public boolean isAlive() {
        return child.isAlive();
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
            if (!child.isAlive()) {
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
        return new ModelPressException(ErrorCode.IO_ERROR, child.describeFailure(service.id() + " " + what + " (port " + port + ")"));
    }

    /** SIGTERM, then SIGKILL when it has not exited within the grace period; removes its pid file. */
    public void stop(Duration grace) {
        child.stop(grace);
    }

    /** SIGKILL at once: what a crash looks like to the rest of the pipeline (tests use it). */
    public void kill() {
        child.kill();
    }

    /** Stops services together (see {@link ChildJvm#stopAll}). */
    static void stopAll(List<ServiceProcess> processes, Duration grace) {
        ChildJvm.stopAll(processes.stream().map(p -> p.child).toList(), grace);
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
