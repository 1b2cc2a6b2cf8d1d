package io.modelpress.orchestrator;

import io.modelpress.pipeline.store.ArtifactStore;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The artifact store, configured by {@code modelpress.s3.*} as in every ModelPress service. */
public class Stores {
    @Produces
    @Singleton
    ArtifactStore artifactStore(OrchestratorConfig config) {
        return new ArtifactStore(config.s3().settings());
    }

    void close(@Disposes ArtifactStore store) {
        store.close();
    }
}
