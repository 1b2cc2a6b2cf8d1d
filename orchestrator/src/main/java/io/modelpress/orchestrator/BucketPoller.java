package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.BucketEvent;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.StoredObject;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.ScheduledExecution;
import io.smallrye.reactive.messaging.MutinyEmitter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * For S3 servers without bucket notifications (S3Proxy, and so devstack): lists the intake prefix periodically and
 * publishes a MinIO-style notification for every model that has no run yet. What it has published is remembered
 * durably without a store of its own: an object version maps to a run id, and runs survive restarts on the runs
 * topic, so after a restart only objects that never became runs are announced again.
 */
@ApplicationScoped
public class BucketPoller {
    private static final Logger LOG = Logger.getLogger(BucketPoller.class);
    /** An announcement that has not become a run after this long is repeated (it may have been lost). */
    private static final Duration REANNOUNCE_AFTER = Duration.ofMinutes(1);

    @Inject
    RunEngine engine;

    @Inject
    RunStore runs;

    @Inject
    ArtifactStore store;

    @Inject
    @Channel("bucket-events-out")
    MutinyEmitter<byte[]> events;

    /** Run ids announced by this process and when, so an announcement on its way is not repeated every poll. */
    private final Map<String, Instant> announced = new ConcurrentHashMap<>();

    @Scheduled(identity = "bucket-poller", every = "${modelpress.intake.poller.interval:5s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP, skipExecutionIf = Off.class)
    void poll() {
        String prefix = engine.intakePrefix();
        List<StoredObject> objects;
        try {
            objects = store.list(prefix);
        } catch (ModelPressException e) {
            LOG.warnf("Bucket poller cannot list %s: %s", prefix, e.getMessage());
            return;
        }
        Instant now = Instant.now();
        int published = 0;
        for (StoredObject object : objects) {
            if (Drop.of(prefix, object.key()).isEmpty()) {
                continue;
            }
            String runId = RunEngine.runIdFor(store.bucket(), object.key(), null, object.etag(), object.bytes());
            Instant before = announced.get(runId);
            if (runs.get(runId).isPresent() || (before != null && before.plus(REANNOUNCE_AFTER).isAfter(now))) {
                continue;
            }
            BucketEvent event = new BucketEvent("s3:ObjectCreated:Put", store.bucket(), object.key(), object.bytes(),
                    object.etag(), null, object.lastModified());
            events.sendMessageAndAwait(KafkaMessages.message(null, event.kafkaKey(), event.toNotificationJson(),
                    CloudEvents.BUCKET_EVENT));
            announced.put(runId, now);
            published++;
        }
        announced.keySet().removeIf(runId -> runs.get(runId).isPresent());
        if (published > 0) {
            LOG.infof("Bucket poller announced %d new object%s under %s", published, published == 1 ? "" : "s", prefix);
        }
    }

    /**
     * No polling when {@code modelpress.intake.poller.enabled=false} (the store publishes notifications), nor before
     * the run state is restored (runs that exist are not known yet).
     */
    @Singleton
    public static class Off implements Scheduled.SkipPredicate {
        @Inject
        OrchestratorConfig config;

        @Inject
        RunStore runs;

        @Override
        public boolean test(ScheduledExecution execution) {
            return !config.intake().poller().enabled() || !runs.restored();
        }
    }
}
