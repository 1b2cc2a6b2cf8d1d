package io.modelpress.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.Stages;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.kafka.EmitterPublisher;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.worker.StageWorker;
import io.modelpress.pipeline.worker.WorkerConfig;
import io.modelpress.pipeline.worker.WorkerSettings;
import io.quarkus.arc.DefaultBean;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.reactive.messaging.MutinyEmitter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Channel;

import java.util.function.Function;

/** Binds the pipeline's stage-worker runtime to Quarkus: config, Micrometer registry, SmallRye emitters. */
@ApplicationScoped
public class WorkerWiring {
    /** The worker app's name (quantize-worker, eval-worker, ...): its id prefix and CloudEvents source. */
    @ConfigProperty(name = "quarkus.application.name")
    String service;

    @Produces
    @Singleton
    WorkerConfig config() {
        Config config = ConfigProvider.getConfig();
        return new WorkerConfig(key -> config.getOptionalValue(key, String.class));
    }

    @Produces
    @Singleton
    ArtifactStore store(WorkerConfig config) {
        ArtifactStore store = new ArtifactStore(config.s3());
        Retry.DEFAULT.call("creating bucket " + store.bucket(), () -> {
            store.ensureBucket();
            return null;
        });
        return store;
    }

    void closeStore(@Disposes ArtifactStore store) {
        store.close();
    }

    @Produces
    @Singleton
    StageMetrics metrics(MeterRegistry registry, WorkerConfig config) {
        return new StageMetrics(registry, config.runSeriesRetention());
    }

    void closeMetrics(@Disposes StageMetrics metrics) {
        metrics.close();
    }

    /** The stages this worker runs; tests may provide another bean of this type. */
    @Produces
    @DefaultBean
    @Singleton
    Function<String, Stage> stages() {
        return Stages::forType;
    }

    @Produces
    @Singleton
    StageWorker worker(ArtifactStore store, StageMetrics metrics, WorkerConfig config, Function<String, Stage> stages,
                       @Channel("stage-results") MutinyEmitter<byte[]> results,
                       @Channel("dead-letters") MutinyEmitter<byte[]> deadLetters) {
        WorkerSettings settings = config.worker(service);
        EmitterPublisher publisher = new EmitterPublisher(results, deadLetters,
                "/modelpress/" + service + "/" + settings.workerId(), config.sendTimeout());
        return new StageWorker(store, publisher, publisher, metrics, settings, stages);
    }

    /** Builds the worker at start-up, so missing settings or an unreachable store fail the start, not the first request. */
    void onStart(@Observes StartupEvent event, StageWorker worker) {
        // nothing more: injecting it creates it
    }
}
