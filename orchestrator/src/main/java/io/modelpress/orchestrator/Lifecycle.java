package io.modelpress.orchestrator;

import io.modelpress.pipeline.store.ArtifactStore;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.reactive.messaging.ChannelRegistry;
import io.smallrye.reactive.messaging.PausableChannel;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.List;

/**
 * Start-up in a fixed order: bucket and topics exist, the run state is read back from the runs topic, queued
 * requests are re-published, and only then do the consumers of results and bucket events start (their channels
 * are configured initially paused). Also the periodic tick.
 */
@ApplicationScoped
public class Lifecycle {
    private static final Logger LOG = Logger.getLogger(Lifecycle.class);
    static final List<String> CONSUMERS = List.of("stage-results", "bucket-events");
    private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(2);

    @Inject
    OrchestratorConfig config;

    @Inject
    ArtifactStore artifacts;

    @Inject
    TopicSetup topics;

    @Inject
    RunLog runLog;

    @Inject
    RunStore store;

    @Inject
    RunEngine engine;

    @Inject
    ChannelRegistry channels;

    void onStart(@Observes StartupEvent event) {
        long start = System.nanoTime();
        artifacts.ensureBucket();
        if (config.topics().create()) {
            topics.ensureTopics();
        }
        store.restore(runLog.readAll(RESTORE_TIMEOUT));
        engine.resumeAfterRestart();
        for (String channel : CONSUMERS) {
            PausableChannel pausable = channels.getPausable(channel);
            if (pausable == null) {
                throw new IllegalStateException("channel " + channel + " must be configured pausable and initially paused");
            }
            pausable.resume();
        }
        LOG.infof("Orchestrator ready: %d runs restored (%d active) in %d ms", store.all().size(),
                store.all().stream().filter(r -> !r.state().terminal()).count(), (System.nanoTime() - start) / 1_000_000);
    }

    @Scheduled(identity = "run-tick", every = "${modelpress.run.tick:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        engine.tick();
    }

    /** Ready once the run state is rebuilt and the consumers run. */
    @Readiness
    @ApplicationScoped
    public static class RunsRestored implements HealthCheck {
        @Inject
        RunStore store;

        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("runs-state").status(store.restored())
                    .withData("runs", store.all().size()).build();
        }
    }
}
