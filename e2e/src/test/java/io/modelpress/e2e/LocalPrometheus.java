package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.devstack.LogTail;
import org.awaitility.core.ConditionTimeoutException;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A Prometheus server (Debian's {@code prometheus}, found on the PATH) as a child process of this JVM: on a free
 * loopback port, with its configuration and TSDB in a temporary folder that {@link #close} deletes, its output in a
 * log the caller names (kept for a look after a failure). It runs under a shell that stops it when this JVM's end of
 * the shell's standard input closes, which the operating system does however this JVM ends: like devstack's
 * ExitWithParent for the JVM children, a killed test run leaves no Prometheus behind.
 *
 * @param shell   the shell that runs prometheus
 * @param folder  the temporary folder of its configuration and TSDB
 * @param log     its output
 * @param baseUrl where its HTTP API answers
 * @param started when it started: it holds no sample from before
 */
record LocalPrometheus(Process shell, Path folder, Path log, String baseUrl, Instant started) implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_GRACE = Duration.ofSeconds(20);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Runs "$@" (prometheus and its flags) and exits with it. A watcher reading the shell's input (kept on fd 3: a
     * background list's own input is /dev/null) stops it at the end of that input, and is stopped itself when
     * prometheus ends first, so it never signals a pid that may have been reused.
     */
    private static final String TIED_TO_STDIN = "exec 3<&0; \"$@\" </dev/null 3<&- & child=$!; "
            + "(cat <&3 >/dev/null; kill $child) & watcher=$!; exec 3<&-; "
            + "wait $child; status=$?; kill $watcher 2>/dev/null; exit $status";

    /** One scrape target as Prometheus reports it. */
    record Target(String job, String health, Instant lastScrape, String lastError) {
    }

    /** One rule as Prometheus reports it, with its group's last evaluation. */
    record Rule(String group, String name, String health, String lastError, Instant groupEvaluated) {
    }

    /** The {@code prometheus} executable on the PATH, if there is one. */
    static Optional<Path> binary() {
        return Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, "prometheus"))
                .filter(Files::isExecutable)
                .findFirst();
    }

    /** Starts Prometheus with the given configuration (YAML) and waits until it answers ready. */
    static LocalPrometheus start(Path binary, String config, Path log) throws IOException {
        Path folder = Files.createTempDirectory("modelpress-prometheus-");
        Path configFile = Files.writeString(folder.resolve("prometheus.yml"), config);
        Files.createDirectories(log.toAbsolutePath().getParent());
        String address = "127.0.0.1:" + freePort();
        List<String> command = List.of("sh", "-c", TIED_TO_STDIN, "sh", binary.toString(), "--config.file=" + configFile,
                "--storage.tsdb.path=" + folder.resolve("tsdb"), "--web.listen-address=" + address);
        Process shell = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        LocalPrometheus prometheus = new LocalPrometheus(shell, folder, log, "http://" + address, Instant.now());
        try {
            prometheus.awaitReady();
        } catch (RuntimeException | AssertionError e) {
            prometheus.close();
            throw e;
        }
        return prometheus;
    }

    private void awaitReady() {
        try {
            await().atMost(START_TIMEOUT).pollInterval(Duration.ofMillis(200)).until(() -> {
                if (!shell.isAlive()) {
                    throw new IllegalStateException("prometheus exited during start-up; its log " + log + " ends with:\n"
                            + LogTail.of(log, 30));
                }
                return status("/-/ready") == 200;
            });
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("prometheus was not ready within " + START_TIMEOUT.toSeconds() + " s; its log " + log
                    + " ends with:\n" + LogTail.of(log, 30), e);
        }
    }

    /** The series an instant query returns now ({@code data.result}); a query Prometheus refuses fails the test. */
    JsonNode query(String promql) {
        JsonNode data = api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        return data.path("result");
    }

    List<Target> targets() {
        List<Target> targets = new ArrayList<>();
        for (JsonNode target : api("/api/v1/targets?state=active").path("activeTargets")) {
            targets.add(new Target(target.path("labels").path("job").asText(), target.path("health").asText(),
                    instant(target.path("lastScrape")), target.path("lastError").asText()));
        }
        return targets;
    }

    List<Rule> rules() {
        List<Rule> rules = new ArrayList<>();
        for (JsonNode group : api("/api/v1/rules").path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                rules.add(new Rule(group.path("name").asText(), rule.path("name").asText(), rule.path("health").asText(),
                        rule.path("lastError").asText(), instant(group.path("lastEvaluation"))));
            }
        }
        return rules;
    }

    /**
     * Waits until every target has been scraped, successfully, and every rule group evaluated after {@code instant}:
     * then the queries see what the services held at that moment.
     */
    void awaitScrapedAfter(Instant instant, int targets) {
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
            assertThat(targets()).as("scrape targets").hasSize(targets)
                    .allSatisfy(t -> assertThat(t.lastScrape()).as(t.job() + " " + t.lastError()).isAfter(instant))
                    .allSatisfy(t -> assertThat(t.health()).as(t.job() + " " + t.lastError()).isEqualTo("up"));
            assertThat(rules()).as("rules").isNotEmpty()
                    .allSatisfy(r -> assertThat(r.groupEvaluated()).as("rule group " + r.group()).isAfter(instant));
        });
    }

    private JsonNode api(String pathAndQuery) {
        HttpResponse<String> response = send(pathAndQuery);
        try {
            JsonNode body = JSON.readTree(response.body());
            if (response.statusCode() != 200 || !"success".equals(body.path("status").asText())) {
                throw new AssertionError("prometheus refused " + pathAndQuery + ": " + response.statusCode() + " " + response.body());
            }
            return body.path("data");
        } catch (IOException e) {
            throw new AssertionError("prometheus answered " + pathAndQuery + " with no JSON: " + response.body(), e);
        }
    }

    private int status(String path) {
        try {
            return send(path).statusCode();
        } catch (UncheckedIOException e) {
            return -1;
        }
    }

    private HttpResponse<String> send(String pathAndQuery) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + pathAndQuery)).timeout(Duration.ofSeconds(10)).build();
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while asking prometheus " + pathAndQuery, e);
        }
    }

    private static Instant instant(JsonNode timestamp) {
        // before the first scrape or evaluation it is Go's zero time, 0001-01-01T00:00:00Z: earlier than any instant asked about
        return timestamp.isTextual() ? OffsetDateTime.parse(timestamp.asText()).toInstant() : Instant.MIN;
    }

    /** Stops Prometheus (the shell's input closes, the shell stops it and waits) and deletes its folder. */
    @Override
    public void close() {
        try {
            shell.getOutputStream().close();
            if (!shell.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                shell.descendants().forEach(ProcessHandle::destroyForcibly);
                shell.destroyForcibly().waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (IOException e) {
            shell.descendants().forEach(ProcessHandle::destroyForcibly);
            shell.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            deleteRecursively(folder);
        }
    }

    private static void deleteRecursively(Path folder) {
        try (Stream<Path> files = Files.walk(folder)) {
            files.sorted(Comparator.reverseOrder()).forEach(file -> file.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + folder, e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
