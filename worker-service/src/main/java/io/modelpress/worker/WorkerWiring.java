package io.modelpress.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.Stages;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.kafka.EmitterPublisher;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.worker.StageWorker;
import io.modelpress.pipeline.worker.WorkerSettings;
import io.quarkus.arc.DefaultBean;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.reactive.messaging.MutinyEmitter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.jboss.logging.Logger;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Binds the pipeline's stage-worker runtime to Quarkus: config, Micrometer registry, SmallRye emitters. */
@ApplicationScoped
public class WorkerWiring {
    private static final Logger LOG = Logger.getLogger(WorkerWiring.class);

    /** The worker app's name (quantize-worker, eval-worker, ...): its id prefix and CloudEvents source. */
    @ConfigProperty(name = "quarkus.application.name")
    String service;

    @Produces
    @Singleton
    ArtifactStore store(WorkerServiceConfig config) {
        ArtifactStore store = new ArtifactStore(config.s3().settings());
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
    StageMetrics metrics(MeterRegistry registry, WorkerServiceConfig config) {
        return new StageMetrics(registry, config.metrics().runSeriesRetention());
    }

    void closeMetrics(@Disposes StageMetrics metrics) {
        metrics.close();
    }

    /** Finds the stage of a type; tests may provide another bean of this type. */
    @Produces
    @DefaultBean
    @Singleton
    Function<String, Stage> stages() {
        return Stages::forType;
    }

    /**
     * This worker's settings, checked before any request is taken: every configured stage type must be one this
     * process has (the error names it and the types there are), and the request topics must be those types' topics.
     */
    @Produces
    @Singleton
    WorkerSettings settings(WorkerServiceConfig config, Function<String, Stage> stages) {
        WorkerSettings settings = config.worker().settings(service);
        settings.stageTypes().forEach(stages::apply);
        List<String> topics = ConfigProvider.getConfig().getOptionalValues(StageTopicsConfigSource.TOPICS, String.class).orElse(List.of());
        requireTopicsOf(settings.stageTypes(), topics);
        LOG.infof("%s runs stage types %s (topics %s); stage types in this process: %s", settings.workerId(),
                String.join(", ", settings.stageTypes()), String.join(", ", topics), String.join(", ", Stages.types()));
        return settings;
    }

    /** A worker consumes exactly the topics of the stage types it runs: no request it would refuse, none it misses. */
    static void requireTopicsOf(Set<String> stageTypes, List<String> topics) {
        Set<String> expected = stageTypes.stream().map(Topics::stage).collect(Collectors.toCollection(LinkedHashSet::new));
        if (!new LinkedHashSet<>(topics).equals(expected)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, StageTopicsConfigSource.TOPICS, "is '" + String.join(",", topics)
                    + "', but " + StageTopicsConfigSource.STAGE_TYPES + " '" + String.join(",", stageTypes) + "' needs exactly '"
                    + String.join(",", expected) + "': leave the topics unset, they follow from the stage types");
        }
    }

    @Produces
    @Singleton
    StageWorker worker(ArtifactStore store, StageMetrics metrics, WorkerServiceConfig config, WorkerSettings settings,
                       Function<String, Stage> stages,
                       @Channel("stage-results") MutinyEmitter<byte[]> results,
                       @Channel("dead-letters") MutinyEmitter<byte[]> deadLetters) {
        settings.stageTypes().forEach(metrics::prepare);
        EmitterPublisher publisher = new EmitterPublisher(results, deadLetters,
                "/modelpress/" + service + "/" + settings.workerId(), config.worker().sendTimeout());
        return new StageWorker(store, publisher, publisher, metrics, settings, stages);
    }

    /** Builds the worker at start-up, so missing settings or an unreachable store fail the start, not the first request. */
    void onStart(@Observes StartupEvent event, StageWorker worker) {
        // nothing more: injecting it creates it
    }
}
