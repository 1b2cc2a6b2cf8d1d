package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.BucketEvent;
import io.smallrye.reactive.messaging.annotations.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

import java.util.List;

/**
 * Consumes {@code modelpress.bucket-events}: S3 event notifications as MinIO publishes them natively, or as
 * {@link BucketPoller} publishes them for S3 servers that cannot notify. Each ends in {@link RunEngine#onBucketEvent},
 * which maps an object version to one run id, so an object announced twice, by both, or again after a restart, still
 * starts one run.
 */
@ApplicationScoped
public class Intake {
    private static final Logger LOG = Logger.getLogger(Intake.class);

    @Inject
    RunEngine engine;

    /**
     * Handles one notification. A failure is logged and the notification skipped rather than stopping intake; the
     * poller announces an object again when no run came of it.
     */
    @Incoming("bucket-events")
    @Blocking
    public void onNotification(byte[] json) {
        for (BucketEvent event : parse(json)) {
            try {
                engine.onBucketEvent(event);
            } catch (RuntimeException e) {
                LOG.errorf(e, "Bucket event for %s could not be handled", event.key());
            }
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
}
