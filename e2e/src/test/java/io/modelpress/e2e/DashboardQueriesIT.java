package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.stack.Service;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Grafana dashboard (deploy/grafana/dashboards/modelpress.json) against the stack it is made for. Traffic first: a
 * prune -> distill -> quantize -> eval run, a run that misses its quality gate, and a stage request whose input fails
 * its checksum (retried, then dead-lettered), so that the failure, retry and dead-letter series exist too. Then:
 * <ul>
 *   <li>without Prometheus: every panel has a query, and every metric a query reads is exposed on /q/metrics by one of
 *   the services (or recorded by a rule in deploy/prometheus/rules, or listed in {@link #EXTERNAL_METRICS});</li>
 *   <li>with Debian's {@code prometheus} (skipped where it is not installed): a Prometheus started before the traffic
 *   scrapes the stack every second with prometheus-local.yml's jobs and the recording rules, and every query of every
 *   panel, asked over its HTTP API, returns at least one series - except those in {@link #NO_DATA_ON_THE_LOCAL_STACK},
 *   which must return none.</li>
 * </ul>
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class DashboardQueriesIT {
    private static final String LOCAL_PROMETHEUS_CONFIG = "deploy/prometheus/prometheus-local.yml";
    private static final String COMPOSE_PROMETHEUS_CONFIG = "deploy/prometheus/prometheus.yml";
    /**
     * Metrics a panel reads that no ModelPress service exposes, and the scrape job that provides them in
     * docker-compose and Kubernetes. The test keeps this from going stale: a panel still reads each, no service exposes
     * it, and the compose Prometheus has that job.
     */
    private static final Map<String, String> EXTERNAL_METRICS = Map.of("kafka_consumergroup_lag", "kafka-exporter");
    /**
     * Queries that return nothing on the local stack, and why. Exactly these must come back empty: an entry whose
     * query gets data, or that names no query any more, fails the test as much as another query without data.
     */
    private static final Map<String, String> NO_DATA_ON_THE_LOCAL_STACK = Map.of(
            "Queue lag (stage requests waiting) [A]", "kafka_consumergroup_lag comes from kafka-exporter, which the local "
                    + "stack does not run (docker-compose and Kubernetes do); query B, the consumers' own lag, covers it here");

    /**
     * Prune, distill, quantize, eval. The distill stage gives the result-cache panel its data: E2eStack switches the
     * cache off for the other workers (their fault tests must compute every stage), not for the distill-worker.
     */
    private static final String COMPRESS_RECIPE = """
            name: dashboard-compress
            stages:
              - prune: { method: structured, ratio: 0.5, criterion: l2 }
              - distill: { steps: 20, batch: 32, learning_rate: 0.01, seed: 3 }
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, size] }
            """;
    /** A small MLP in int8 is about 3x smaller, nowhere near 100x: the eval stage fails the gate. */
    private static final String MISSED_GATE_RECIPE = """
            name: dashboard-missed-gate
            stages:
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, size], gate: { min_compression_ratio: 100 } }
            """;
    private static final int TRAINING_SAMPLES = 256;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private static E2eStack e2e;
    /** Null where prometheus is not installed. */
    private static LocalPrometheus prometheus;
    /** When the traffic was over: every service had counted all of it. */
    private static Instant trafficEnd;

    @BeforeAll
    static void startPrometheusThenSendTraffic() throws Exception {
        e2e = E2eStack.shared();
        // before the traffic, and scraped once: rates and quantiles need samples from both sides of it
        if (LocalPrometheus.binary().isPresent()) {
            prometheus = LocalPrometheus.start(LocalPrometheus.binary().get(), prometheusConfig(),
                    E2eStack.stackDirectory("dashboard-prometheus").resolve("prometheus.log"));
            prometheus.awaitScrapedAfter(prometheus.started(), Service.values().length);
        }
        trafficEnd = sendTraffic();
    }

    @AfterAll
    static void stopPrometheus() {
        if (prometheus != null) {
            prometheus.close();
        }
    }

    @Test
    void everyPanelHasAQueryAndEveryMetricItReadsIsExposedByAService() throws Exception {
        Dashboard dashboard = Dashboard.read(e2e.projectRoot);
        assertThat(dashboard.panels()).filteredOn(p -> !p.isRow()).isNotEmpty()
                .allSatisfy(p -> assertThat(p.queries()).as("queries of panel " + p.title()).isNotEmpty()
                        .allSatisfy(q -> assertThat(q.metricNames()).as(q.id() + ": " + q.expr()).isNotEmpty()));
        Map<String, String> recorded = Dashboard.recordingRules(e2e.projectRoot);
        Map<Service, Set<String>> exposed = new LinkedHashMap<>();
        for (Service service : Service.values()) {
            exposed.put(service, exposedBy(service));
        }
        Set<String> exposedByAny = exposed.values().stream().flatMap(Set::stream).collect(Collectors.toSet());

        Map<String, Set<String>> unexplained = new TreeMap<>();
        for (Dashboard.Query query : dashboard.queries()) {
            for (String name : query.metricNames()) {
                // a recording rule's own inputs must be there too, or the rule records nothing
                Set<String> read = recorded.containsKey(name) ? Dashboard.metricNames(recorded.get(name)) : Set.of(name);
                Set<String> missing = read.stream().filter(n -> !exposedByAny.contains(n) && !EXTERNAL_METRICS.containsKey(n))
                        .collect(Collectors.toCollection(TreeSet::new));
                if (name.contains(":") && !recorded.containsKey(name)) {
                    missing.add(name + " (no recording rule in " + Dashboard.RULES + ")");
                }
                if (!missing.isEmpty()) {
                    unexplained.computeIfAbsent(query.id(), id -> new TreeSet<>()).addAll(missing);
                }
            }
        }
        assertThat(unexplained).as("metrics the dashboard reads that no service exposes after the traffic (ModelPress's own by "
                + "service: %s)", modelPressMetrics(exposed)).isEmpty();

        Set<String> readByPanels = dashboard.queries().stream().flatMap(q -> q.metricNames().stream()).collect(Collectors.toSet());
        assertThat(readByPanels).as("external metrics still read by a panel").containsAll(EXTERNAL_METRICS.keySet());
        assertThat(exposedByAny).as("external metrics exposed by a service after all").doesNotContainAnyElementsOf(EXTERNAL_METRICS.keySet());
        assertThat(composeScrapeJobs()).as("scrape jobs of " + COMPOSE_PROMETHEUS_CONFIG).containsAll(EXTERNAL_METRICS.values());
    }

    @Test
    void everyPanelQueryReturnsSeriesFromAPrometheusScrapingTheStack() throws IOException {
        assumeTrue(prometheus != null, "prometheus is not installed (Debian package prometheus; .ci/run installs it)");
        prometheus.awaitScrapedAfter(trafficEnd, Service.values().length);
        assertThat(prometheus.rules()).as("rules of " + Dashboard.RULES)
                .allSatisfy(r -> assertThat(r.health()).as(r.name() + " " + r.lastError()).isEqualTo("ok"));

        // Grafana's $__rate_interval becomes a window over everything this Prometheus saw, however slow the machine
        String window = (Duration.between(prometheus.started(), Instant.now()).toSeconds() + 5) + "s";
        Map<String, JsonNode> answers = new LinkedHashMap<>();
        for (Dashboard.Query query : Dashboard.read(e2e.projectRoot).queries()) {
            answers.put(query.id(), prometheus.query(query.withWindow(window)));
        }
        answers.forEach((id, series) -> System.out.printf("%3d series  %s  %s%n", series.size(), id, values(series)));

        // series, not values: the workers' labelled counters and histograms (dead letters, cache, a stage's outcome)
        // appear at their first increment, which rate() and increase() then cannot see, so on a fresh stack some of
        // these draw 0 or NaN; the series being there is what shows that the query matches what the services expose
        Set<String> empty = answers.entrySet().stream().filter(a -> a.getValue().isEmpty()).map(Map.Entry::getKey)
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(empty).as("queries without a series (window %s); allowed to be empty: %s", window, NO_DATA_ON_THE_LOCAL_STACK)
                .containsExactlyInAnyOrderElementsOf(NO_DATA_ON_THE_LOCAL_STACK.keySet());
    }

    /** The series' values, for the log: what a panel would draw. */
    private static List<String> values(JsonNode series) {
        List<String> values = new ArrayList<>();
        series.forEach(s -> values.add(s.path("value").path(1).asText()));
        return values;
    }

    /** Sends the runs and the corrupted request, checks that each ended as meant, and returns when it was over. */
    private static Instant sendTraffic() throws Exception {
        RunState compressed = dropAndAwait("dashboard-compress", COMPRESS_RECIPE, SmallModels.mlp(16, 128, 8, false, 21).toByteArray(),
                Map.of("train.npz", trainingData()));
        assertThat(compressed.state()).as(compressed.error()).isEqualTo(RunState.State.SUCCEEDED);
        // while the second run quantizes, the eval-worker retries the corrupted request
        String corrupted = sendCorruptedRequest(compressed.input());
        // after the first run, not beside it: its quantize stage moves histograms that the first one created
        RunState missedGate = dropAndAwait("dashboard-gate", MISSED_GATE_RECIPE, E2eStack.smallModel(22), Map.of());
        assertThat(missedGate.state()).isEqualTo(RunState.State.FAILED);
        assertThat(missedGate.error()).contains("min_compression_ratio");
        StageResult deadLettered = e2e.finalResults(corrupted, 1).get(0);
        assertThat(deadLettered.error().message()).as("the corrupted request's answer").startsWith("gave up after 3 attempts");
        return Instant.now();
    }

    /** Drops a model with its recipe and data files into the bucket and waits until its run ends. */
    private static RunState dropAndAwait(String prefix, String recipe, byte[] model, Map<String, byte[]> data) {
        String name = E2eStack.uniqueName(prefix);
        e2e.put("incoming/" + name + "/recipe.yaml", recipe);
        data.forEach((file, bytes) -> e2e.put("incoming/" + name + "/data/" + file, bytes));
        // the model last: its arrival starts the run
        e2e.put("incoming/" + name + "/model.onnx", model);
        return e2e.awaitEnd(e2e.awaitRunFor("incoming/" + name + "/model.onnx").runId());
    }

    /** Gaussian samples of the MLP's 16 inputs, for distill to learn from. */
    private static byte[] trainingData() throws IOException {
        Path npz = Files.createTempFile("dashboard-train", ".npz");
        try {
            float[] x = SmallModels.random(new Random(9), TRAINING_SAMPLES * 16, 1f);
            NpyWriter.writeNpz(npz, Map.of("x", HostArray.of(x, TRAINING_SAMPLES, 16)), false);
            return Files.readAllBytes(npz);
        } finally {
            Files.delete(npz);
        }
    }

    /**
     * Sends the eval-worker a request for a stored model under a checksum it does not have, as if the object had been
     * overwritten: the worker downloads it three times (a mismatch may be a broken transfer, so it is retried), then
     * dead-letters the request and answers FAILED. Its run id is one the orchestrator does not know, so the answer is
     * ignored there and no run depends on it. Returns the run id.
     */
    private static String sendCorruptedRequest(ArtifactRef stored) throws Exception {
        String runId = E2eStack.uniqueName("dashboard-corrupted");
        ArtifactRef corrupted = new ArtifactRef(stored.bucket(), stored.key(), "0".repeat(64), stored.bytes());
        StageRequest request = new StageRequest(runId, 0, 1, "eval", Map.of("metrics", List.of("size")), corrupted, corrupted,
                List.of(), null, Instant.now().plus(E2eStack.WAIT));
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, e2e.endpoints.kafkaBootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(Topics.stage("eval"), runId, Json.write(request))).get();
        }
        return runId;
    }

    private static Map<Service, List<String>> modelPressMetrics(Map<Service, Set<String>> exposed) {
        Map<Service, List<String>> own = new LinkedHashMap<>();
        exposed.forEach((service, names) -> own.put(service, names.stream().filter(n -> n.startsWith("modelpress")).toList()));
        return own;
    }

    /** The names of the samples a service exposes on /q/metrics (a histogram's are its _bucket, _count and _sum). */
    private static Set<String> exposedBy(Service service) throws Exception {
        URI metrics = URI.create("http://127.0.0.1:" + e2e.stack.ports().of(service) + "/q/metrics");
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(metrics.toString()).isEqualTo(200);
        return response.body().lines().filter(line -> !line.isBlank() && !line.startsWith("#"))
                .map(line -> line.split("[{ ]", 2)[0]).collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * prometheus-local.yml (the configuration for {@code ./modelpress up}'s default ports) pointed at this stack: each
     * job's target moved from its service's default port to the port the service has here, scraped and evaluated every
     * second so that a short run leaves enough samples, its rule files by absolute path.
     */
    @SuppressWarnings("unchecked")
    private static String prometheusConfig() throws IOException {
        Path local = e2e.projectRoot.resolve(LOCAL_PROMETHEUS_CONFIG);
        Map<String, Object> config = new Yaml().load(Files.readString(local));
        config.put("global", Map.of("scrape_interval", "1s", "scrape_timeout", "1s", "evaluation_interval", "1s"));
        config.put("rule_files", ((List<String>) config.get("rule_files")).stream()
                .map(file -> local.resolveSibling(file).toString()).toList());
        Set<Service> scraped = EnumSet.noneOf(Service.class);
        for (Map<String, Object> job : (List<Map<String, Object>>) config.get("scrape_configs")) {
            for (Map<String, Object> group : (List<Map<String, Object>>) job.get("static_configs")) {
                group.put("targets", ((List<String>) group.get("targets")).stream().map(target -> {
                    Service service = serviceAtDefaultPort(target);
                    // the rules and the dashboard tell the services apart by job
                    assertThat(job.get("job_name")).as(target).isEqualTo("modelpress-" + service.id());
                    scraped.add(service);
                    return "127.0.0.1:" + e2e.stack.ports().of(service);
                }).toList());
            }
        }
        assertThat(scraped).as("services scraped by " + LOCAL_PROMETHEUS_CONFIG).containsExactlyInAnyOrder(Service.values());
        return new Yaml().dump(config);
    }

    private static Service serviceAtDefaultPort(String target) {
        return Arrays.stream(Service.values()).filter(s -> target.equals("127.0.0.1:" + s.defaultPort())).findFirst()
                .orElseThrow(() -> new AssertionError(target + " in " + LOCAL_PROMETHEUS_CONFIG + " is no service's default port"));
    }

    @SuppressWarnings("unchecked")
    private static Set<String> composeScrapeJobs() throws IOException {
        Map<String, Object> config = new Yaml().load(Files.readString(e2e.projectRoot.resolve(COMPOSE_PROMETHEUS_CONFIG)));
        return ((List<Map<String, Object>>) config.get("scrape_configs")).stream()
                .map(job -> (String) job.get("job_name")).collect(Collectors.toSet());
    }
}
