package io.modelpress.e2e;

import io.minio.MinioClient;
import io.minio.SetBucketNotificationArgs;
import io.minio.messages.EventType;
import io.minio.messages.NotificationConfiguration;
import io.minio.messages.QueueConfiguration;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.stack.ApiClient;
import io.modelpress.stack.Service;
import io.modelpress.stack.Stack;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import java.util.concurrent.TimeUnit;

/**
 * The intake-to-outgoing flow on real images instead of devstack: Apache Kafka and MinIO, with MinIO publishing the
 * bucket's notifications to Kafka itself (the orchestrator's bucket poller is off, so only MinIO's events start runs).
 * The services run as processes on the host, as in the other end-to-end tests. Skipped without a Docker engine.
 */
@Testcontainers(disabledWithoutDocker = true)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ContainersIT {
    private static final String KAFKA_IMAGE = "apache/kafka:4.1.0";
    private static final String MINIO_IMAGE = "minio/minio:RELEASE.2025-04-22T22-12-26Z";
    /** The MinIO notification target's id: its ARN is arn:minio:sqs::PRIMARY:kafka. */
    private static final String TARGET = "PRIMARY";
    private static final String BUCKET = "modelpress";

    private static final Network NETWORK = Network.newNetwork();

    @Container
    private static final KafkaContainer KAFKA = new KafkaContainer(KAFKA_IMAGE)
            .withNetwork(NETWORK)
            .withListener("kafka:19092");

    @Container
    private static final MinIOContainer MINIO = new MinIOContainer(MINIO_IMAGE)
            .withNetwork(NETWORK)
            .dependsOn(KAFKA)
            .withEnv(Map.of(
                    "MINIO_NOTIFY_KAFKA_ENABLE_" + TARGET, "on",
                    "MINIO_NOTIFY_KAFKA_BROKERS_" + TARGET, "kafka:19092",
                    "MINIO_NOTIFY_KAFKA_TOPIC_" + TARGET, Topics.BUCKET_EVENTS));

    private static Stack stack;
    private static ArtifactStore store;
    private static ApiClient api;

    @BeforeAll
    static void startServices() throws Exception {
        Endpoints endpoints = new Endpoints(KAFKA.getBootstrapServers(), MINIO.getS3URL(), MINIO.getUserName(), MINIO.getPassword(), BUCKET);
        store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(), BUCKET));
        store.ensureBucket();
        subscribeToModelUploads();

        stack = Stack.tiedToThisJvm(java.nio.file.Path.of(System.getProperty("modelpress.home", "..")),
                E2eStack.stackDirectory("containers-stack"))
                .withEnv(Service.ORCHESTRATOR, Map.of("MODELPRESS_INTAKE_POLLER_ENABLED", "false"));
        stack.startServices(endpoints, new PrintWriter(new StringWriter()));
        api = stack.apiClient();
    }

    /** What {@code mc event add ALIAS/modelpress arn:minio:sqs::PRIMARY:kafka --event put --suffix .onnx} does. */
    private static void subscribeToModelUploads() throws Exception {
        MinioClient client = MinioClient.builder().endpoint(MINIO.getS3URL()).credentials(MINIO.getUserName(), MINIO.getPassword()).build();
        QueueConfiguration queue = new QueueConfiguration();
        queue.setQueue("arn:minio:sqs::" + TARGET + ":kafka");
        queue.setEvents(List.of(EventType.OBJECT_CREATED_PUT, EventType.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD));
        queue.setPrefixRule("incoming/");
        queue.setSuffixRule(".onnx");
        NotificationConfiguration config = new NotificationConfiguration();
        config.setQueueConfigurationList(List.of(queue));
        client.setBucketNotification(SetBucketNotificationArgs.builder().bucket(BUCKET).config(config).build());
    }

    @AfterAll
    static void stopServices() {
        if (stack != null) {
            stack.stopServices(new PrintWriter(new StringWriter()));
        }
        if (store != null) {
            store.close();
        }
    }

    @Test
    void aModelUploadedToMinioIsAnnouncedOverKafkaAndComesOutUnderOutgoing() {
        String name = E2eStack.uniqueName("minio");
        String key = "incoming/" + name + "/model.onnx";
        store.putBytes("incoming/" + name + "/recipe.yaml", E2eStack.EVAL_RECIPE.getBytes(StandardCharsets.UTF_8), "application/yaml");
        store.putBytes(key, E2eStack.smallModel(9), "application/octet-stream");

        RunState started = await().atMost(E2eStack.WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> api.runs().stream().filter(r -> key.equals(r.source())).findFirst(), Optional::isPresent).orElseThrow();
        RunState run = await().atMost(E2eStack.WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> api.run(started.runId()), r -> r.state().terminal());

        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
        String outgoing = "outgoing/" + name + "/" + run.runId() + "/";
        assertThat(store.list(outgoing)).extracting(o -> o.key().substring(outgoing.length()))
                .containsExactlyInAnyOrder("model.onnx", "report.json", "report.html");
    }
}
