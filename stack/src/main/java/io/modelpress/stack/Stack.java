package io.modelpress.stack;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.Sha256;
import io.modelpress.devstack.ChildJvm.Lifetime;
import io.modelpress.devstack.Endpoints;
import io.modelpress.devstack.StackDirectory;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A local ModelPress stack: devstack (Kafka + S3) and the services (orchestrator, quantize-worker, eval-worker, prune-worker) as
 * processes on loopback. {@code modelpress up/down/status} use it with {@link Lifetime#DETACHED} processes that
 * outlive the command; tests and benchmarks with {@link Lifetime#TIED_TO_THIS_JVM} on a devstack of their own.
 */
public final class Stack {
    /** Long enough for four Quarkus services and a broker starting at once on two busy cores. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(180);
    public static final Duration STOP_GRACE = Duration.ofSeconds(30);
    private static final Duration DEVSTACK_COMMAND_TIMEOUT = Duration.ofSeconds(180);

    /** Ports of the services (HTTP) and of devstack. */
    public record Ports(int orchestrator, int quantizeWorker, int evalWorker, int pruneWorker, int distillWorker, int kafka, int controller, int s3) {
        public static final Ports DEFAULT = new Ports(Service.ORCHESTRATOR.defaultPort(), Service.QUANTIZE_WORKER.defaultPort(),
                Service.EVAL_WORKER.defaultPort(), Service.PRUNE_WORKER.defaultPort(), Service.DISTILL_WORKER.defaultPort(), 9092, 9093, 9000);

        public int of(Service service) {
            return switch (service) {
                case ORCHESTRATOR -> orchestrator;
                case QUANTIZE_WORKER -> quantizeWorker;
                case EVAL_WORKER -> evalWorker;
                case PRUNE_WORKER -> pruneWorker;
                case DISTILL_WORKER -> distillWorker;
            };
        }

        /** Free loopback ports for the services (devstack's stay as given). */
        public Ports withFreeServicePorts() {
            return new Ports(freePort(), freePort(), freePort(), freePort(), freePort(), kafka, controller, s3);
        }
    }

    /** One line of {@code status}. */
    public record ServiceStatus(Service service, Long pid, int port, int readiness) {
        public boolean running() {
            return pid != null;
        }

        public String health() {
            return pid == null ? "-" : readiness == 200 ? "UP" : readiness == 503 ? "DOWN" : "not answering";
        }
    }

    private final Path projectRoot;
    private final StackDirectory directory;
    private final Ports ports;
    private final Lifetime lifetime;
    private final Map<Service, Map<String, String>> extraEnv = new EnumMap<>(Service.class);
    private final List<String> extraJvmOptions = new ArrayList<>();

    public Stack(Path projectRoot, StackDirectory directory, Ports ports, Lifetime lifetime) {
        this.projectRoot = projectRoot.toAbsolutePath().normalize();
        this.directory = directory;
        this.ports = ports;
        this.lifetime = lifetime;
    }

    /**
     * A stack for tests and benchmarks: its logs and pid files in {@code directory}, the services on free ports and
     * tied to this JVM (they exit with it, however it ends), on a devstack of the caller's.
     */
    public static Stack tiedToThisJvm(Path projectRoot, Path directory) {
        return new Stack(projectRoot, new StackDirectory(directory), Ports.DEFAULT.withFreeServicePorts(), Lifetime.TIED_TO_THIS_JVM);
    }

    /** Extra configuration for one service, as environment variables (e.g. a shorter Kafka session timeout). */
    public Stack withEnv(Service service, Map<String, String> env) {
        extraEnv.computeIfAbsent(service, s -> new LinkedHashMap<>()).putAll(env);
        return this;
    }

    public Stack withJvmOption(String option) {
        extraJvmOptions.add(option);
        return this;
    }

    public StackDirectory directory() {
        return directory;
    }

    public Ports ports() {
        return ports;
    }

    public String apiUrl() {
        return "http://127.0.0.1:" + ports.orchestrator();
    }

    // ---------------------------------------------------------------- devstack (detached stacks only)

    /** Starts devstack in the stack directory unless it runs already (devstack's own {@code up} is idempotent). */
    public Endpoints devstackUp(PrintWriter out) {
        runDevstack(out, "up", "--dir", directory.devstack().root().toString(), "--kafka-port", Integer.toString(ports.kafka()),
                "--controller-port", Integer.toString(ports.controller()), "--s3-port", Integer.toString(ports.s3()));
        return Endpoints.readFrom(directory.devstack().endpointsFile());
    }

    public void devstackDown(PrintWriter out) {
        runDevstack(out, "down", "--dir", directory.devstack().root().toString());
    }

    /** Devstack's own status lines; the exit code says whether it runs (0) or not (3). */
    public int devstackStatus(PrintWriter out) {
        return runDevstack(out, "status", "--dir", directory.devstack().root().toString());
    }

    private int runDevstack(PrintWriter out, String... args) {
        Path jar = Build.devstackJar(projectRoot).orElseThrow(() -> new ModelPressException(ErrorCode.IO_ERROR, "devstack",
                "its jar is not built; run ./mvnw -q -pl devstack -am package -DskipTests"));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString()));
        command.addAll(List.of(args));
        try {
            Process process = new ProcessBuilder(command).directory(projectRoot.toFile()).redirectErrorStream(true).start();
            String output;
            try (var in = process.getInputStream()) {
                output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!process.waitFor(DEVSTACK_COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new ModelPressException(ErrorCode.IO_ERROR, "devstack", args[0] + " did not finish within "
                        + DEVSTACK_COMMAND_TIMEOUT.toSeconds() + " s");
            }
            int exit = process.exitValue();
            if (exit != 0 && !(args[0].equals("status") && exit == 3)) {
                throw new ModelPressException(ErrorCode.IO_ERROR, "devstack", args[0] + " failed (exit code " + exit + "):\n" + output.strip());
            }
            output.lines().forEach(line -> out.println("  " + line));
            out.flush();
            return exit;
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "devstack", "cannot run " + jar + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelPressException(ErrorCode.IO_ERROR, "devstack", "interrupted");
        }
    }

    // ---------------------------------------------------------------- services

    /**
     * Starts every service that is not running, waits until all of them are ready, and records the stack's
     * endpoints. Services that run already are left alone. When one fails to start, the ones this call started are
     * stopped again and the error names the service and shows the end of its log.
     */
    public Map<Service, ServiceProcess> startServices(Endpoints endpoints, PrintWriter out) {
        createUploadsDirectory();
        Map<Service, ServiceProcess> processes = new EnumMap<>(Service.class);
        List<ServiceProcess> started = new ArrayList<>();
        try {
            for (Service service : Service.values()) {
                Optional<ServiceProcess> running = ServiceProcess.find(service, ports.of(service), directory);
                if (running.isPresent()) {
                    out.printf("  %-16s already running (pid %d, port %d)%n", service.id(), running.get().pid(), running.get().port());
                    processes.put(service, running.get());
                } else {
                    ServiceProcess process = start(service, endpoints);
                    started.add(process);
                    processes.put(service, process);
                }
            }
            out.flush();
            for (ServiceProcess process : started) {
                process.awaitReady(START_TIMEOUT);
                out.printf("  %-16s ready (pid %d, port %d, log %s)%n", process.service().id(), process.pid(), process.port(),
                        process.log());
                out.flush();
            }
        } catch (RuntimeException e) {
            try {
                ServiceProcess.stopAll(started, Duration.ofSeconds(10));
            } catch (RuntimeException stopFailure) {
                e.addSuppressed(stopFailure);
            }
            throw e;
        }
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put(StackDirectory.API_URL, apiUrl());
        for (Service service : Service.values()) {
            properties.put(service.id() + ".port", Integer.toString(ports.of(service)));
        }
        properties.put("kafka.port", Integer.toString(ports.kafka()));
        properties.put("controller.port", Integer.toString(ports.controller()));
        properties.put("s3.port", Integer.toString(ports.s3()));
        properties.putAll(endpoints.asMap());
        directory.writeStackProperties(properties);
        return processes;
    }

    /**
     * Fails, naming the port and the option that changes it, when the port of a service that is not running is taken:
     * checked before anything starts, so a busy port leaves nothing half started.
     */
    public void requirePortsFree() {
        for (Service service : Service.values()) {
            if (find(service).isEmpty()) {
                requireFree(service, ports.of(service));
            }
        }
    }

    /** Starts one service (it must not be running) and returns without waiting for it to be ready. */
    public ServiceProcess start(Service service, Endpoints endpoints) {
        int port = ports.of(service);
        requireFree(service, port);
        return ServiceProcess.start(service, service.jar(projectRoot), port, environment(service, endpoints), extraJvmOptions,
                directory, lifetime);
    }

    /** How a service of this stack is configured: its port, devstack's endpoints, then the extra settings given. */
    Map<String, String> environment(Service service, Endpoints endpoints) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("QUARKUS_HTTP_PORT", Integer.toString(ports.of(service)));
        env.put("QUARKUS_HTTP_HOST", "127.0.0.1");
        env.put("KAFKA_BOOTSTRAP_SERVERS", endpoints.kafkaBootstrapServers());
        env.put("MODELPRESS_S3_ENDPOINT", endpoints.s3Endpoint());
        env.put("MODELPRESS_S3_ACCESS_KEY", endpoints.s3AccessKey());
        env.put("MODELPRESS_S3_SECRET_KEY", endpoints.s3SecretKey());
        env.put("MODELPRESS_S3_BUCKET", endpoints.bucket());
        if (service == Service.ORCHESTRATOR) {
            env.put("QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY", directory.uploads().toString());
            // the API wants this stack's token; the orchestrator is given only its hash
            env.put("MODELPRESS_API_TOKENS", "admin:" + Sha256.of(apiToken().getBytes(StandardCharsets.UTF_8)));
        }
        env.putAll(extraEnv.getOrDefault(service, Map.of()));
        return env;
    }

    /**
     * This stack's API token, made on first use: 32 random bytes in hex in {@link StackDirectory#apiToken()}, readable
     * by its owner only. The CLI and the tests read it from there, so nobody has to type it.
     */
    public String apiToken() {
        Path file = directory.apiToken();
        try {
            if (Files.isRegularFile(file)) {
                return Files.readString(file).trim();
            }
            Files.createDirectories(file.toAbsolutePath().getParent());
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String token = HexFormat.of().formatHex(random);
            Path temp = Files.createTempFile(file.toAbsolutePath().getParent(), "api-token", ".part");
            try {
                ownerOnly(temp);
                Files.writeString(temp, token + "\n");
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(temp);
            }
            return Files.readString(file).trim();
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be read or written: " + e.getMessage(), e);
        }
    }

    /** A client of this stack's API, with its token. */
    public ApiClient apiClient() {
        return new ApiClient(apiUrl(), apiToken());
    }

    private static void ownerOnly(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException notPosix) {
            // Windows: the user's profile folder is private already
        }
    }

    /** The running process of a service, if any. */
    public Optional<ServiceProcess> find(Service service) {
        return ServiceProcess.find(service, ports.of(service), directory);
    }

    /** Stops every service (all at once: SIGTERM, SIGKILL after the grace period) and forgets the endpoints. */
    public void stopServices(PrintWriter out) {
        List<ServiceProcess> running = new ArrayList<>();
        for (Service service : Service.values()) {
            find(service).ifPresentOrElse(running::add, () -> directory.deletePid(service.id()));
        }
        ServiceProcess.stopAll(running, STOP_GRACE);
        for (ServiceProcess process : running) {
            out.printf("  %-16s stopped (pid %d)%n", process.service().id(), process.pid());
        }
        if (running.isEmpty()) {
            out.println("  no service was running");
        }
        out.flush();
        directory.deleteStackProperties();
    }

    public List<ServiceStatus> status() {
        List<ServiceStatus> lines = new ArrayList<>();
        for (Service service : Service.values()) {
            Optional<ServiceProcess> process = find(service);
            lines.add(new ServiceStatus(service, process.map(ServiceProcess::pid).orElse(null), ports.of(service),
                    process.map(ServiceProcess::readiness).orElse(-1)));
        }
        return lines;
    }

    private void createUploadsDirectory() {
        try {
            Files.createDirectories(directory.uploads());
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, directory.uploads().toString(), "cannot be created: " + e.getMessage(), e);
        }
    }

    private static void requireFree(Service service, int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "port " + port + " (" + service.id() + ")",
                    "is already in use on 127.0.0.1. Stop whatever listens there, or choose another port with "
                            + "--" + (service == Service.ORCHESTRATOR ? "api" : service.id().replace("-worker", "")) + "-port");
        }
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "no free port on 127.0.0.1: " + e.getMessage());
        }
    }
}
