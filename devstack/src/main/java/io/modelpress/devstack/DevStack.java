package io.modelpress.devstack;

import io.modelpress.devstack.ChildJvm.Lifetime;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A real Apache Kafka broker (KRaft, one node) and a real S3 server (S3Proxy on a directory) on loopback, each in
 * its own child JVM.
 *
 * <p>For tests: {@link #shared()} (one stack per test JVM, started on first use, stopped at exit) or
 * {@link #startForTests()} (a stack of one's own; close it). Both listen on free ports and keep their data in a
 * temporary directory. For local runs: {@code java -jar modelpress-devstack.jar up|status|down [--dir D]} (see
 * {@link #main(String[])}).
 *
 * <p>Why child JVMs rather than the broker inside the test JVM: the broker needs Scala, Kafka's server jars and
 * their Jackson, and S3Proxy shades its own Jetty and Jackson; in child JVMs none of that reaches the classpath of
 * the services' tests, which get only this small jar.
 */
public final class DevStack implements AutoCloseable {

    static final String DEFAULT_BUCKET = "modelpress";
    static final String DEFAULT_ACCESS_KEY = "modelpress";
    static final String DEFAULT_SECRET_KEY = "modelpress-devstack-secret";
    /** Long enough for a cold start on two busy cores; a crash is reported as soon as it happens. */
    static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    /** Time given to a service to shut down cleanly before it is killed. */
    static final Duration STOP_GRACE = Duration.ofSeconds(30);

    private static DevStack shared;

    private final StackDirectory directory;
    private final ChildJvm kafka;
    private final ChildJvm s3;
    private final Endpoints endpoints;
    private final boolean deleteDirectoryOnClose;
    private final Thread shutdownHook;
    private boolean closed;

    private DevStack(StackDirectory directory, ChildJvm kafka, ChildJvm s3, Endpoints endpoints, Lifetime lifetime,
            boolean deleteDirectoryOnClose) {
        this.directory = directory;
        this.kafka = kafka;
        this.s3 = s3;
        this.endpoints = endpoints;
        this.deleteDirectoryOnClose = deleteDirectoryOnClose;
        // Tied services would exit with this JVM anyway; the hook stops them cleanly and deletes the directory.
        this.shutdownHook = lifetime == Lifetime.TIED_TO_THIS_JVM ? new Thread(this::close, "devstack-shutdown") : null;
        if (shutdownHook != null) {
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
    }

    /**
     * The stack shared by everything in this JVM, started on the first call (2-4 s) and stopped when the JVM
     * exits. Do not close it; use {@link #startForTests()} for a stack of one's own.
     */
    public static synchronized Endpoints shared() {
        if (shared == null) {
            shared = startForTests();
        }
        return shared.endpoints();
    }

    /**
     * Starts a stack of one's own on free loopback ports with its data in a new temporary directory; closing it
     * stops both services and deletes the directory. The services also exit when this JVM exits, however it ends.
     */
    public static DevStack startForTests() {
        Path directory;
        try {
            directory = Files.createTempDirectory("modelpress-devstack-");
        } catch (IOException e) {
            throw new DevStackException("Cannot create a temporary directory for devstack: " + e.getMessage(), e);
        }
        try {
            return start(directory, Ports.free(), Lifetime.TIED_TO_THIS_JVM, true);
        } catch (RuntimeException e) {
            deleteRecursively(directory);
            throw e;
        }
    }

    /**
     * Starts both services and waits until both serve. On failure nothing is left running and the exception says
     * which service failed and why.
     */
    static DevStack start(Path root, Ports ports, Lifetime lifetime, boolean deleteDirectoryOnClose) {
        StackDirectory directory = new StackDirectory(root);
        directory.createDirectories();
        ports.requireAvailable();

        List<ChildJvm> started = new ArrayList<>();
        try {
            // Both start at once: together they take about as long as Kafka alone.
            ChildJvm kafka = KafkaNode.launch(directory, ports, lifetime);
            started.add(kafka);
            ChildJvm s3 = S3Node.launch(
                    directory, ports, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, DEFAULT_BUCKET, lifetime);
            started.add(s3);

            awaitReady(kafka, () -> KafkaNode.isReady(kafka), s3, () -> S3Node.isReady(ports));

            Endpoints endpoints = new Endpoints(KafkaNode.bootstrapServers(ports), S3Node.endpoint(ports),
                    DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, DEFAULT_BUCKET);
            endpoints.writeTo(directory.endpointsFile());
            return new DevStack(directory, kafka, s3, endpoints, lifetime, deleteDirectoryOnClose);
        } catch (RuntimeException e) {
            try {
                ChildJvm.stopAll(started, Duration.ofSeconds(10));
            } catch (RuntimeException stopFailure) {
                e.addSuppressed(stopFailure);
            }
            throw e;
        }
    }

    private static void awaitReady(ChildJvm kafka, BooleanSupplier kafkaReady, ChildJvm s3, BooleanSupplier s3Ready) {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        boolean kafkaUp = false;
        boolean s3Up = false;
        while (!(kafkaUp && s3Up)) {
            kafkaUp = kafkaUp || ready(kafka, KafkaNode.NAME, kafkaReady);
            s3Up = s3Up || ready(s3, S3Node.NAME, s3Ready);
            if (System.nanoTime() > deadline) {
                ChildJvm late = kafkaUp ? s3 : kafka;
                throw new DevStackException(late.describeFailure((kafkaUp ? S3Node.NAME : KafkaNode.NAME)
                        + " did not become ready within " + START_TIMEOUT.toSeconds() + " s"));
            }
            if (!(kafkaUp && s3Up)) {
                sleep(Duration.ofMillis(100));
            }
        }
    }

    private static boolean ready(ChildJvm child, String name, BooleanSupplier isReady) {
        if (!child.isAlive()) {
            throw new DevStackException(child.describeFailure(name + " exited during start-up"));
        }
        return isReady.getAsBoolean();
    }

    public Endpoints endpoints() {
        return endpoints;
    }

    /** The directory holding this stack's configs, data and logs. */
    public Path directory() {
        return directory.root();
    }

    /** Stops both services (cleanly if they allow) and, for a test stack, deletes its directory. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException jvmShuttingDown) {
                // the hook runs anyway; closing twice is harmless
            }
        }
        ChildJvm.stopAll(List.of(kafka, s3), STOP_GRACE);
        if (deleteDirectoryOnClose) {
            deleteRecursively(directory.root());
        }
    }

    /**
     * The command line: {@code up [--dir D] [--kafka-port N] [--controller-port N] [--s3-port N]},
     * {@code status [--dir D]}, {@code down [--dir D]}; exit code 0 on success, 1 on failure, 2 for a bad command
     * line, 3 from {@code status} when the stack is not running.
     */
    public static void main(String[] args) {
        System.exit(Commands.run(args, System.out, System.err));
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DevStackException("Interrupted while waiting for devstack", e);
        }
    }

    static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    if (e != null) {
                        throw e;
                    }
                    Files.delete(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new DevStackException("Cannot delete the devstack directory " + root + ": " + e.getMessage(), e);
        }
    }
}
