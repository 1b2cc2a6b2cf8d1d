package io.modelpress.orchestrator;

import io.modelpress.devstack.DevStack;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.testing.DevStackResource;
import io.modelpress.pipeline.testing.Topic;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

@QuarkusTest
@WithTestResource(DevStackResource.class)
class TopicSetupTest {
    /** A stage whose worker does not run in this test, so no consumer holds its topic while it is replaced. */
    private static final String TOPIC = Topics.stage("distill");

    @Inject
    TopicSetup topicSetup;

    @Inject
    OrchestratorConfig config;

    @Test
    void aStageTopicWithTooFewPartitionsIsGrown() throws Exception {
        String bootstrap = DevStack.shared().kafkaBootstrapServers();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            // as the broker auto-creates a topic a worker subscribed to before the orchestrator ran: one partition
            admin.deleteTopics(List.of(TOPIC)).all().get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                Topic.create(bootstrap, TOPIC, 1);
                return partitions(admin) == 1;
            });

            topicSetup.ensureTopics();

            assertThat(partitions(admin)).isEqualTo(config.topics().partitions()).isGreaterThan(1);
            topicSetup.ensureTopics();
            assertThat(partitions(admin)).as("a second start changes nothing").isEqualTo(config.topics().partitions());
        }
    }

    private static int partitions(Admin admin) throws Exception {
        return admin.describeTopics(List.of(TOPIC)).allTopicNames().get(30, TimeUnit.SECONDS).get(TOPIC).partitions().size();
    }
}
