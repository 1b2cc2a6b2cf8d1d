package io.modelpress.orchestrator;

import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The artifact store, from {@code modelpress.s3.*}. */
public class Stores {
    @Produces
    @Singleton
    ArtifactStore artifactStore(OrchestratorConfig config) {
        OrchestratorConfig.S3 s3 = config.s3();
        return new ArtifactStore(new S3Settings(s3.endpoint(), s3.accessKey(), s3.secretKey(), s3.bucket(), s3.region(),
                S3Settings.DEFAULT_PART_SIZE, S3Settings.DEFAULT_CONNECT_TIMEOUT, S3Settings.DEFAULT_IO_TIMEOUT));
    }

    void close(@Disposes ArtifactStore store) {
        store.close();
    }
}
