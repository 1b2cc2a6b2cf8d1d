package io.modelpress.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The process mode: {@code up}, {@code status} and {@code down}, as a person runs them. */
class CommandsTest {

    @TempDir
    Path directory;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @AfterEach
    void leaveNothingRunning() {
        run("down", "--dir", directory.toString());
        assertThat(StackProcesses.of(directory)).as("processes left running").isEmpty();
    }

    @Test
    void upStatusDownCycle() throws Exception {
        // Free ports rather than the defaults, so a developer's own stack does not get in the way.
        Ports ports = Ports.free();
        String[] where = {"--dir", directory.toString()};

        int up = run("up", "--dir", directory.toString(), "--kafka-port", "" + ports.kafka(),
                "--controller-port", "" + ports.controller(), "--s3-port", "" + ports.s3());
        assertThat(up).as(err.toString()).isZero();
        assertThat(out.toString()).contains("devstack is up in " + directory)
                .contains("kafka.bootstrap.servers=127.0.0.1:" + ports.kafka())
                .contains("s3.endpoint=http://127.0.0.1:" + ports.s3());
        Endpoints endpoints = Endpoints.readFrom(directory.resolve("endpoints.properties"));
        List<ProcessHandle> services = StackProcesses.of(directory);
        assertThat(services).hasSize(2);
        assertThat(new StackDirectory(directory).pidFile(KafkaNode.PROCESS)).isRegularFile();

        // the broker started by 'up' serves clients
        try (Admin admin = Admin.create(
                Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafkaBootstrapServers()))) {
            assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
        }

        assertThat(run(command("status", where))).isZero();
        assertThat(out.toString()).contains("Kafka broker: running (pid ").contains("S3Proxy: running (pid ");

        assertThat(run(command("up", where))).as("up on a running stack").isZero();
        assertThat(out.toString()).contains("already running");
        assertThat(StackProcesses.of(directory)).containsExactlyInAnyOrderElementsOf(services);

        assertThat(run(command("down", where))).isZero();
        assertThat(out.toString()).contains("stopped Kafka broker").contains("stopped S3Proxy");
        assertThat(services).noneMatch(ProcessHandle::isAlive);
        assertThat(new StackDirectory(directory).pidFile(KafkaNode.PROCESS)).doesNotExist();
        assertThat(new StackDirectory(directory).pidFile(S3Node.PROCESS)).doesNotExist();
        assertThat(directory.resolve("endpoints.properties")).doesNotExist();
        assertThatCode(ports::requireAvailable).as("ports are free again").doesNotThrowAnyException();

        assertThat(run(command("status", where))).isEqualTo(Commands.NOT_RUNNING);
        assertThat(out.toString()).contains("Kafka broker: not running").contains("S3Proxy: not running");
    }

    @Test
    void upOnATakenPortFailsNamingThePort() throws Exception {
        Ports ports = Ports.free();
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress(Ports.LOOPBACK, ports.kafka()));

            int up = run("up", "--dir", directory.toString(), "--kafka-port", "" + ports.kafka(),
                    "--controller-port", "" + ports.controller(), "--s3-port", "" + ports.s3());

            assertThat(up).isEqualTo(1);
            assertThat(err.toString())
                    .contains("Port " + ports.kafka() + " (Kafka broker) on 127.0.0.1 is already in use")
                    .contains("--kafka-port")
                    .doesNotContain("Exception");
        }
        assertThat(StackProcesses.of(directory)).isEmpty();
        assertThat(new StackDirectory(directory).pidFile(KafkaNode.PROCESS)).doesNotExist();
    }

    @Test
    void badCommandLinesGetTheUsage() {
        assertThat(run("start")).isEqualTo(2);
        assertThat(err.toString()).contains("unknown command 'start'").contains("usage:");
        assertThat(run("up", "--kafka-port")).isEqualTo(2);
        assertThat(err.toString()).contains("option --kafka-port needs a value");
        assertThat(run("up", "--s3-port", "nine")).isEqualTo(2);
        assertThat(err.toString()).contains("--s3-port needs a port number, got 'nine'");
        assertThat(run("down", "--s3-port", "9000")).isEqualTo(2);
        assertThat(err.toString()).contains("--s3-port applies to 'up' only");
    }

    @Test
    void downWhenNothingRunsSaysSo() {
        assertThat(run("down", "--dir", directory.toString())).isZero();
        assertThat(out.toString()).contains("devstack is not running in " + directory);
    }

    private int run(String... args) {
        out.reset();
        err.reset();
        return Commands.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private static String[] command(String name, String[] options) {
        String[] args = new String[options.length + 1];
        args[0] = name;
        System.arraycopy(options, 0, args, 1, options.length);
        return args;
    }
}
