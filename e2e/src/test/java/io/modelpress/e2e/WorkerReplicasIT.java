package io.modelpress.e2e;

import io.modelpress.core.recipe.StageSpec;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.stack.Service;
import io.modelpress.stack.ServiceProcess;
import io.modelpress.stack.Stack;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Worker replicas share a stage topic: a second quantize-worker process (the packaged app, started as the launcher
 * starts one) joins the first one's consumer group, Kafka splits the topic's partitions between the two, and runs
 * dropped one after another are answered by both. The test waits until each member holds part of the quantize topic;
 * run ids hash to partitions, so it then drops runs until both workers have answered one: with the topic's 4
 * partitions split 2 + 2, twenty runs all landing on one worker would take odds of 2 in a million.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class WorkerReplicasIT {
    private static final int MAX_RUNS = 20;
    /** With a cheap eval of its own: a recipe without one gets the default evaluation (latency timing included) appended. */
    private static final String QUANTIZE_RECIPE = """
            name: quantize-only
            stages:
              - quantize: { mode: dynamic }
              - eval: { metrics: [size] }
            """;

    private final E2eStack e2e = E2eStack.shared();

    @Test
    void twoQuantizeWorkerProcessesBothTakeWork() {
        ServiceProcess first = e2e.process(Service.QUANTIZE_WORKER);
        // a second stack folder and port: the launcher's own bookkeeping knows one process per service and folder
        Stack replicas = Stack.tiedToThisJvm(e2e.projectRoot, E2eStack.stackDirectory("e2e-replica"))
                .withEnv(Service.QUANTIZE_WORKER, E2eStack.WORKER_ENV);
        ServiceProcess second = replicas.start(Service.QUANTIZE_WORKER, e2e.endpoints);
        try {
            second.awaitReady(Stack.START_TIMEOUT);
            awaitQuantizePartitionsShared();
            Map<Long, String> answeredBy = new LinkedHashMap<>();
            for (int i = 0; i < MAX_RUNS && answeredBy.size() < 2; i++) {
                String name = E2eStack.uniqueName("replicas");
                String key = "incoming/" + name + "/model.onnx";
                e2e.put("incoming/" + name + "/recipe.yaml", QUANTIZE_RECIPE);
                e2e.put(key, E2eStack.smallModel(100 + i));
                RunState run = e2e.awaitEnd(e2e.awaitRunFor(key).runId());
                assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
                StageResult result = recordedResult(run);
                long pid = Long.parseLong(result.workerId().substring(result.workerId().lastIndexOf('-') + 1));
                assertThat(pid).as("the worker that answered %s", run.runId()).isIn(first.pid(), second.pid());
                answeredBy.putIfAbsent(pid, run.runId());
            }
            assertThat(answeredBy).as("runs answered by each worker process (pid -> first run)")
                    .containsOnlyKeys(first.pid(), second.pid());
        } finally {
            second.stop(Duration.ofSeconds(10));
        }
    }

    /**
     * Waits until the group has settled with each of the two members holding part of the quantize topic (the
     * cooperative-sticky assignor balances partitions over both subscribed topics, quantize and convert).
     */
    private void awaitQuantizePartitionsShared() {
        String group = "modelpress-quantize-worker";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, e2e.endpoints.kafkaBootstrapServers()))) {
            await().atMost(E2eStack.WAIT).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                assertThat(description.members()).as("members of " + group).hasSize(2).allSatisfy(member ->
                        assertThat(member.assignment().topicPartitions()).as(member.consumerId())
                                .anyMatch(p -> p.topic().equals(Topics.stage("quantize"))));
            });
        }
    }

    private StageResult recordedResult(RunState run) {
        RunState.StageStatus stage = run.stages().get(0);
        String key = "runs/" + run.runId() + "/" + StageSpec.label(stage.index(), stage.type()) + "-a" + stage.attempt() + "/stage.json";
        return e2e.store.getJson(key, StageResult.class).orElseThrow(() -> new AssertionError("no " + key));
    }
}
