package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.BucketEvent;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.StoredObject;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.ScheduledExecution;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.annotations.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where runs come from: S3 event notifications on {@code modelpress.bucket-events} (MinIO publishes them natively)
 * and, for S3 servers that cannot notify, a poller that lists the intake prefix and publishes the same notification
 * for every model that has no run yet. Both paths end in {@link RunEngine#onBucketEvent}, which maps an object
 * version to one run id, so an object seen by both, or seen again after a restart, still starts one run.
 */
@ApplicationScoped
public class Intake {
    private static final Logger LOG = Logger.getLogger(Intake.class);

    @Inject
    RunEngine engine;

    @Inject
    RunStore runs;

    @Inject
    ArtifactStore store;

    @Inject
    @Channel("bucket-events-out")
    MutinyEmitter<byte[]> events;

    /** Run ids this process has announced: the poller does not repeat itself while the event is on its way. */
    private final Set<String> announced = ConcurrentHashMap.newKeySet();

    @Incoming("bucket-events")
    @Blocking
    public void onNotification(byte[] json) {
        for (BucketEvent event : parse(json)) {
            engine.onBucketEvent(event);
        }
    }

    private static List<BucketEvent> parse(byte[] json) {
        try {
            return BucketEvent.parse(json);
        } catch (ModelPressException e) {
            LOG.warnf("Skipping a bucket notification: %s", e.getMessage());
            return List.of();
        }
    }

    @Scheduled(identity = "bucket-poller", every = "${modelpress.intake.poller.interval:5s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP, skipExecutionIf = PollerOff.class)
    void poll() {
        if (!runs.restored()) {
            return;
        }
        String prefix = engine.intakePrefix();
        List<StoredObject> objects;
        try {
            objects = store.list(prefix);
        } catch (ModelPressException e) {
            LOG.warnf("Bucket poller cannot list %s: %s", prefix, e.getMessage());
            return;
        }
        int published = 0;
        for (StoredObject object : objects) {
            if (Drop.of(prefix, object.key()).isEmpty()) {
                continue;
            }
            String runId = RunEngine.runIdFor(store.bucket(), object.key(), null, object.etag(), object.bytes());
            if (runs.get(runId).isPresent() || !announced.add(runId)) {
                continue;
            }
            BucketEvent event = new BucketEvent("s3:ObjectCreated:Put", store.bucket(), object.key(), object.bytes(),
                    object.etag(), null, object.lastModified());
            events.sendMessageAndAwait(KafkaMessages.message(null, event.kafkaKey(), event.toNotificationJson(),
                    CloudEvents.BUCKET_EVENT));
            published++;
        }
        if (published > 0) {
            LOG.infof("Bucket poller published %d new object%s under %s", published, published == 1 ? "" : "s", prefix);
        }
    }

    /** Skips polling when {@code modelpress.intake.poller.enabled=false} (a store that publishes notifications). */
    @Singleton
    public static class PollerOff implements Scheduled.SkipPredicate {
        @Inject
        OrchestratorConfig config;

        @Override
        public boolean test(ScheduledExecution execution) {
            return !config.intake().poller().enabled();
        }
    }
}
