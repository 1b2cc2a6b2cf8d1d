package io.modelpress.e2e;

import io.modelpress.devstack.StackDirectory;
import io.modelpress.stack.Service;
import io.modelpress.stack.ServiceProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import java.util.concurrent.TimeUnit;

/**
 * {@code modelpress up / status / down} as a user runs them: background processes that outlive the command, found
 * again through pid files; up is idempotent and replaces a service that died; down stops everything.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class LauncherIT {
    private static Path directory;
    private static String[] options;

    @BeforeAll
    static void ports() throws IOException {
        directory = E2eStack.stackDirectory("launcher-it");
        options = new String[] {"--dir", directory.toString(), "--api-port", freePort(), "--quantize-port", freePort(),
                "--eval-port", freePort(), "--prune-port", freePort(), "--distill-port", freePort(), "--kafka-port", freePort(), "--controller-port", freePort(), "--s3-port", freePort()};
    }

    @AfterAll
    static void down() {
        // whatever happened above, nothing is left running
        Cli down = Cli.run("down", "--dir", directory.toString());
        assertThat(down.exitCode()).as(down.toString()).isZero();
    }

    private static String[] with(String command, String... more) {
        List<String> args = new ArrayList<>(List.of(command));
        args.addAll(List.of(options));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void upStatusUpAgainReplaceDeadServiceAndDown() {
        Cli up = Cli.run(with("up", "--no-build"));
        assertThat(up.exitCode()).as(up.toString()).isZero();
        assertThat(up.out()).contains("the stack is up").contains("orchestrator     ready").contains("eval-worker      ready")
                .contains("prune-worker     ready").contains("distill-worker   ready");
        StackDirectory stack = new StackDirectory(directory);
        Map<Service, Long> pids = pids(stack);
        assertThat(pids).containsOnlyKeys(Service.values());

        Cli status = Cli.run("status", "--dir", directory.toString());
        assertThat(status.exitCode()).as(status.toString()).isZero();
        assertThat(status.out()).containsPattern("orchestrator\\s+running\\s+" + pids.get(Service.ORCHESTRATOR) + "\\s+\\d+\\s+UP");
        assertThat(status.out()).contains("Kafka broker: running").contains("S3Proxy: running");

        // up again: nothing restarted
        Cli again = Cli.run(with("up", "--no-build"));
        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(again.out()).contains("devstack is already running").contains("quantize-worker  already running");
        assertThat(pids(stack)).isEqualTo(pids);

        // a worker dies: status says so, and up replaces only that one
        ServiceProcess.find(Service.QUANTIZE_WORKER, 0, stack).orElseThrow().kill();
        Cli degraded = Cli.run("status", "--dir", directory.toString());
        assertThat(degraded.exitCode()).isEqualTo(3);
        assertThat(degraded.out()).containsPattern("quantize-worker\\s+stopped");
        Cli repair = Cli.run(with("up", "--no-build"));
        assertThat(repair.exitCode()).as(repair.toString()).isZero();
        Map<Service, Long> repaired = pids(stack);
        assertThat(repaired.get(Service.QUANTIZE_WORKER)).isNotEqualTo(pids.get(Service.QUANTIZE_WORKER));
        assertThat(repaired.get(Service.ORCHESTRATOR)).isEqualTo(pids.get(Service.ORCHESTRATOR));
        assertThat(repaired.get(Service.EVAL_WORKER)).isEqualTo(pids.get(Service.EVAL_WORKER));
        assertThat(repaired.get(Service.PRUNE_WORKER)).isEqualTo(pids.get(Service.PRUNE_WORKER));

        Cli down = Cli.run("down", "--dir", directory.toString());
        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(down.out()).contains("stopped Kafka broker").contains("stopped S3Proxy");
        for (long pid : repaired.values()) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("pid " + pid).isFalse();
        }
        assertThat(pids(stack)).isEmpty();
        assertThat(stack.stackProperties()).doesNotExist();
        Cli stopped = Cli.run("status", "--dir", directory.toString());
        assertThat(stopped.exitCode()).isEqualTo(3);
    }

    @Test
    void aServiceThatCannotStartIsNamedWithTheEndOfItsLog() throws IOException {
        // the orchestrator's port is taken by someone else
        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path other = E2eStack.stackDirectory("launcher-busy");
            Cli up = Cli.run("up", "--no-build", "--dir", other.toString(), "--api-port", Integer.toString(squatter.getLocalPort()),
                    "--quantize-port", freePort(), "--eval-port", freePort(), "--prune-port", freePort(), "--distill-port", freePort(), "--kafka-port", freePort(),
                    "--controller-port", freePort(), "--s3-port", freePort());
            try {
                assertThat(up.exitCode()).as(up.toString()).isEqualTo(2);
                assertThat(up.err()).contains("port " + squatter.getLocalPort() + " (orchestrator)").contains("--api-port");
                assertThat(pids(new StackDirectory(other))).isEmpty();
            } finally {
                Cli.run("down", "--dir", other.toString());
            }
        }
    }

    private static Map<Service, Long> pids(StackDirectory stack) {
        Map<Service, Long> pids = new java.util.EnumMap<>(Service.class);
        for (Service service : Service.values()) {
            Optional<ServiceProcess> process = ServiceProcess.find(service, 0, stack);
            process.ifPresent(p -> pids.put(service, p.pid()));
        }
        return pids;
    }

    private static String freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return Integer.toString(socket.getLocalPort());
        }
    }
}
