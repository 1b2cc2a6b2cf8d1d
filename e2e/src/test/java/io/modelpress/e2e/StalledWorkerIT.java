package io.modelpress.e2e;

import io.modelpress.core.recipe.StageSpec;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.stack.Service;
import io.modelpress.stack.ServiceProcess;
import io.modelpress.stack.Stack;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A worker killed mid-stage and not restarted, with a second worker of its type alive: the orchestrator hears no
 * heartbeat from it for stall-after (15 s here), shows the stage STALLED, records attempt 1 as given up and requests
 * attempt 2; the consumer group hands the dead worker's partitions to the survivor, which answers the redelivered
 * attempt 1 from that record (it does not run it again) and runs attempt 2 to the end, heartbeating all along, so the
 * run succeeds without being stalled a second time.
 *
 * <p>The shared eval-worker is stopped for the test and two replicas run instead, with Kafka's default 45 s session
 * timeout (the other tests' workers use 8 s), so the stall comes well before the group moves the partitions.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class StalledWorkerIT {
    private static final String GROUP = "modelpress-eval-worker";

    private final E2eStack e2e = E2eStack.shared();

    @Test
    void aKilledWorkersStageIsStalledAndCompletedByAnotherWorker() throws Exception {
        Map<String, String> env = new HashMap<>(E2eStack.WORKER_ENV);
        env.put("MP_MESSAGING_INCOMING_REQUESTS_SESSION_TIMEOUT_MS", "45000");
        List<ServiceProcess> replicas = new ArrayList<>();
        e2e.process(Service.EVAL_WORKER).stop(Duration.ofSeconds(30));
        try {
            for (String name : List.of("e2e-stall-a", "e2e-stall-b")) {
                Stack stack = Stack.tiedToThisJvm(e2e.projectRoot, E2eStack.stackDirectory(name))
                        .withEnv(Service.EVAL_WORKER, env);
                replicas.add(stack.start(Service.EVAL_WORKER, e2e.endpoints));
            }
            for (ServiceProcess replica : replicas) {
                replica.awaitReady(Stack.START_TIMEOUT);
            }
            awaitEvalPartitionsSharedByTwo();

            String name = E2eStack.uniqueName("stalled");
            String key = "incoming/" + name + "/model.onnx";
            e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.SLOW_EVAL_RECIPE);
            e2e.put(key, E2eStack.slowModel(11));
            String runId = e2e.awaitRunFor(key).runId();
            e2e.awaitStageRunning(runId, 0);
            String victimId = events(runId, found -> !found.isEmpty()).get(0).workerId();
            ServiceProcess victim = replicas.stream().filter(p -> victimId.endsWith("-" + p.pid())).findFirst()
                    .orElseThrow(() -> new AssertionError(victimId + " is neither replica " + replicas));
            ServiceProcess survivor = replicas.get(1 - replicas.indexOf(victim));

            victim.kill();

            RunState stalled = await().atMost(E2eStack.WAIT).pollInterval(Duration.ofMillis(200))
                    .until(() -> e2e.api.run(runId), r -> r.state().terminal() || r.stages().get(0).status() == RunState.StageStatusValue.STALLED);
            RunState.StageStatus stage = stalled.stages().get(0);
            assertThat(stage.status()).as(stalled.state() + " " + stalled.error()).isEqualTo(RunState.StageStatusValue.STALLED);
            assertThat(stage.attempt()).isEqualTo(2);
            assertThat(stage.message()).startsWith("attempt 1 stalled: no heartbeat from worker " + victimId + " for more than 15 s")
                    .endsWith("requested again as attempt 2 of 3 for another worker");

            RunState run = e2e.awaitEnd(runId);
            assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
            assertThat(run.stages().get(0).attempt()).as("the survivor, slow but heartbeating, is not stalled").isEqualTo(2);
            String stageFolder = "runs/" + runId + "/" + StageSpec.label(0, "eval");
            StageResult givenUp = e2e.store.getJson(stageFolder + "-a1/stage.json", StageResult.class).orElseThrow();
            assertThat(givenUp.status()).isEqualTo(StageResult.Status.FAILED);
            assertThat(givenUp.workerId()).isEqualTo("orchestrator");
            StageResult finished = e2e.store.getJson(stageFolder + "-a2/stage.json", StageResult.class).orElseThrow();
            assertThat(finished.status()).isEqualTo(StageResult.Status.SUCCEEDED);
            assertThat(finished.workerId()).endsWith("-" + survivor.pid());
            assertThat(e2e.keysUnder("outgoing/" + name + "/")).containsExactlyInAnyOrder(
                    runId + "/model.onnx", runId + "/report.json", runId + "/report.html");

            assertThat(metric(e2e.stack.apiUrl(), "modelpress_stage_stalls_total{stage=\"eval\"}")).isGreaterThanOrEqualTo(1);

            // the dead worker's uncommitted request reached the survivor too, which answered it from the record
            // (re-publishing the orchestrator's FAILED) instead of running attempt 1 again beside attempt 2
            String survivorId = finished.workerId();
            List<StageResult> events = events(runId, found -> found.stream().anyMatch(e -> e.attempt() == 1 && e.isFinal()));
            assertThat(events).filteredOn(e -> e.attempt() == 1).extracting(StageResult::workerId).doesNotContain(survivorId)
                    .contains(victimId, "orchestrator");
            assertThat(events).filteredOn(e -> e.attempt() == 2).extracting(StageResult::workerId).containsOnly(survivorId);
        } finally {
            for (ServiceProcess replica : replicas) {
                replica.stop(Duration.ofSeconds(10));
            }
            e2e.startAndAwait(Service.EVAL_WORKER);
        }
    }

    /** Waits until the group has exactly the two replicas, each holding part of the eval topic. */
    private void awaitEvalPartitionsSharedByTwo() {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, e2e.endpoints.kafkaBootstrapServers()))) {
            await().atMost(E2eStack.WAIT).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(GROUP)).all().get().get(GROUP);
                assertThat(description.members()).as("members of " + GROUP).hasSize(2).allSatisfy(member ->
                        assertThat(member.assignment().topicPartitions()).as(member.consumerId()).isNotEmpty());
            });
        }
    }

    /** A run's events on the results topic, oldest first, read until {@code enough} accepts them. */
    private List<StageResult> events(String runId, java.util.function.Predicate<List<StageResult>> enough) {
        Map<String, Object> config = Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, e2e.endpoints.kafkaBootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "stalled-worker-it-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.STAGE_RESULTS));
            List<StageResult> found = new ArrayList<>();
            long deadline = System.nanoTime() + E2eStack.WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (runId.equals(record.key())) {
                        found.add(Json.read(record.value(), StageResult.class));
                    }
                }
                if (enough.test(found)) {
                    return found;
                }
            }
            throw new AssertionError("not all expected events of " + runId + " on " + Topics.STAGE_RESULTS + ": " + found);
        }
    }

    /** A sample's value from a service's /q/metrics (0 when absent). */
    private static double metric(String baseUrl, String series) throws IOException, InterruptedException {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(baseUrl + "/q/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        Matcher value = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(response.body());
        return value.find() ? Double.parseDouble(value.group(1)) : 0;
    }
}
