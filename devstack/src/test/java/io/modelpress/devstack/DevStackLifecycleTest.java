package io.modelpress.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.modelpress.devstack.ChildJvm.Lifetime;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Starting, failing to start and stopping leave nothing running and nothing behind. */
class DevStackLifecycleTest {

    @TempDir
    Path temp;

    @Test
    void closeStopsBothServicesAndDeletesTheDirectory() {
        DevStack stack = DevStack.startForTests();
        Path directory = stack.directory();
        List<ProcessHandle> processes = StackProcesses.of(directory);
        assertThat(processes).hasSize(2);
        assertThat(directory.resolve("logs/kafka.log")).isNotEmptyFile();

        stack.close();

        assertThat(processes).noneMatch(ProcessHandle::isAlive);
        assertThat(directory).doesNotExist();
        stack.close(); // a second close is harmless
    }

    @Test
    void aStartOnATakenPortFailsNamingThePortAndStartsNothing() throws IOException {
        Ports free = Ports.free();
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress(Ports.LOOPBACK, free.s3()));
            Ports ports = new Ports(free.kafka(), free.controller(), free.s3());

            assertThatThrownBy(() -> DevStack.start(temp, ports, Lifetime.TIED_TO_THIS_JVM, false))
                    .isInstanceOf(DevStackException.class)
                    .hasMessageContaining("Port " + free.s3() + " (S3)")
                    .hasMessageContaining("already in use");
        }
        assertThat(StackProcesses.of(temp)).isEmpty();
        assertThat(new StackDirectory(temp).pidFile(KafkaNode.PROCESS)).doesNotExist();
    }

    @Test
    void aCrashedStartSaysWhyAndLeavesNothingRunning() throws IOException {
        // Kafka cannot use a regular file as its log directory, while S3Proxy starts fine: Kafka's failure must
        // be reported, and S3Proxy stopped.
        Files.createDirectories(temp.resolve("kafka"));
        Files.writeString(temp.resolve("kafka/data"), "not a directory");

        assertThatThrownBy(() -> DevStack.start(temp, Ports.free(), Lifetime.TIED_TO_THIS_JVM, false))
                .isInstanceOf(DevStackException.class)
                .hasMessageContaining("Kafka broker exited during start-up (exit code ")
                .hasMessageContaining("Last lines of " + temp.resolve("logs/kafka.log"))
                .hasMessageContaining(temp.resolve("kafka/data").toString());
        assertThat(StackProcesses.of(temp)).isEmpty();
        assertThat(new StackDirectory(temp).pidFile(KafkaNode.PROCESS)).doesNotExist();
        assertThat(new StackDirectory(temp).pidFile(S3Node.PROCESS)).doesNotExist();
    }

    @Test
    void servicesExitWhenTheirJvmIsKilled() throws Exception {
        Process holder = startHolder("own");
        List<ProcessHandle> services = awaitServices(holder);
        assertThat(services).hasSize(2).allMatch(ProcessHandle::isAlive);

        holder.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no shutdown hook runs

        for (ProcessHandle service : services) {
            service.onExit().get(60, TimeUnit.SECONDS);
        }
        assertThat(services).noneMatch(ProcessHandle::isAlive);
    }

    @Test
    void theSharedStackStopsAndIsDeletedWhenItsJvmExits() throws Exception {
        Process holder = startHolder("shared");
        List<ProcessHandle> services = awaitServices(holder);
        assertThat(services).hasSize(2);

        assertThat(holder.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(holder.exitValue()).isZero();

        assertThat(services).noneMatch(ProcessHandle::isAlive);
        try (var left = Files.list(temp)) {
            assertThat(left).as("the stack's temporary directory").isEmpty();
        }
    }

    /** A JVM running {@link StackHolder}, with its temporary files in this test's directory. */
    private Process startHolder(String mode) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return new ProcessBuilder(java.toString(), "-Djava.io.tmpdir=" + temp,
                "-cp", System.getProperty("java.class.path"), StackHolder.class.getName(), mode)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }

    private static List<ProcessHandle> awaitServices(Process holder) throws IOException {
        List<ProcessHandle> services = new ArrayList<>();
        BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
        for (String line = out.readLine(); line != null && !line.equals("READY"); line = out.readLine()) {
            if (line.startsWith("PID ")) {
                ProcessHandle.of(Long.parseLong(line.substring(4))).ifPresent(services::add);
            }
        }
        return services;
    }
}
