package io.modelpress.orchestrator;

import io.modelpress.core.recipe.RecipeSchema;
import io.modelpress.core.stage.Stages;
import io.modelpress.pipeline.Topics;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Creates the topics the pipeline needs when they are missing, at start-up: the runs topic compacted (the latest state
 * per run must never be deleted by retention), the others with enough partitions for workers to scale out. Existing
 * topics are left as they are, except that a stage-request topic with fewer partitions than configured (auto-created
 * by the broker, or made by an older setting) is grown to the configured number: partitions bound how many worker
 * replicas can share a stage, and a run's requests come one at a time, so moving keys to new partitions loses no
 * order that matters. A runs topic that is not compacted is reported, since runs would then be lost.
 */
@ApplicationScoped
public class TopicSetup {
    private static final Logger LOG = Logger.getLogger(TopicSetup.class);

    @Inject
    @Identifier("default-kafka-broker")
    Map<String, Object> kafkaConfig;

    @Inject
    OrchestratorConfig config;

    void ensureTopics() {
        Map<String, Object> adminConfig = new HashMap<>(kafkaConfig);
        adminConfig.put(AdminClientConfig.CLIENT_ID_CONFIG, "modelpress-orchestrator-admin");
        try (Admin admin = Admin.create(adminConfig)) {
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<NewTopic> missing = new ArrayList<>();
            for (String topic : wanted()) {
                if (!existing.contains(topic)) {
                    NewTopic newTopic = new NewTopic(topic, topic.equals(Topics.RUNS) ? 1 : config.topics().partitions(),
                            config.topics().replicationFactor());
                    if (topic.equals(Topics.RUNS)) {
                        newTopic.configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
                    }
                    missing.add(newTopic);
                }
            }
            if (!missing.isEmpty()) {
                createIgnoringRaces(admin, missing);
                LOG.infof("Created topics %s", missing.stream().map(NewTopic::name).toList());
            }
            growStageTopics(admin, existing);
            warnUnlessCompacted(admin);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating Kafka topics", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot create the Kafka topics at " + kafkaConfig.get("bootstrap.servers") + ": " + e.getMessage(), e);
        }
    }

    private static Set<String> wanted() {
        Set<String> topics = new TreeSet<>(List.of(Topics.RUNS, Topics.BUCKET_EVENTS, Topics.STAGE_RESULTS));
        for (String type : stageTypes()) {
            topics.add(Topics.stage(type));
            topics.add(Topics.deadLetters(type));
        }
        return topics;
    }

    /** Every stage type a recipe can name (those found at run time), including those whose workers are still to come. */
    private static Set<String> stageTypes() {
        Set<String> types = new TreeSet<>(Stages.types());
        types.addAll(RecipeSchema.PLANNED);
        return types;
    }

    private void growStageTopics(Admin admin, Set<String> existing) throws InterruptedException, ExecutionException, TimeoutException {
        int wanted = config.topics().partitions();
        List<String> stageTopics = stageTypes().stream().map(Topics::stage).filter(existing::contains).toList();
        if (stageTopics.isEmpty()) {
            return;
        }
        Map<String, NewPartitions> grow = new HashMap<>();
        for (TopicDescription topic : admin.describeTopics(stageTopics).allTopicNames().get(30, TimeUnit.SECONDS).values()) {
            if (topic.partitions().size() < wanted) {
                grow.put(topic.name(), NewPartitions.increaseTo(wanted));
                LOG.infof("Topic %s has %d partitions; growing it to %d (modelpress.topics.partitions) so worker replicas can share it",
                        topic.name(), topic.partitions().size(), wanted);
            }
        }
        if (!grow.isEmpty()) {
            admin.createPartitions(grow).all().get(30, TimeUnit.SECONDS);
        }
    }

    private static void createIgnoringRaces(Admin admin, List<NewTopic> topics) throws InterruptedException, TimeoutException,
            ExecutionException {
        for (var entry : admin.createTopics(topics).values().entrySet()) {
            try {
                entry.getValue().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException)) {
                    throw e;
                }
            }
        }
    }

    private static void warnUnlessCompacted(Admin admin) throws InterruptedException, ExecutionException, TimeoutException {
        ConfigResource runs = new ConfigResource(ConfigResource.Type.TOPIC, Topics.RUNS);
        Config runsConfig = admin.describeConfigs(List.of(runs)).all().get(30, TimeUnit.SECONDS).get(runs);
        String policy = runsConfig.get(TopicConfig.CLEANUP_POLICY_CONFIG).value();
        if (!policy.contains(TopicConfig.CLEANUP_POLICY_COMPACT)) {
            LOG.errorf("Topic %s has cleanup.policy=%s: run states will be deleted by retention and lost at the next restart. "
                    + "Set cleanup.policy=compact on it.", Topics.RUNS, policy);
        }
    }
}
