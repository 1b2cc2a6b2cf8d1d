package io.modelpress.orchestrator;

import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.worker.WorkerConfig;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.Config;

/** The artifact store, configured by {@code modelpress.s3.*} as in every ModelPress service. */
public class Stores {
    @Produces
    @Singleton
    ArtifactStore artifactStore(Config config) {
        return new ArtifactStore(new WorkerConfig(key -> config.getOptionalValue(key, String.class)).s3());
    }

    void close(@Disposes ArtifactStore store) {
        store.close();
    }
}
