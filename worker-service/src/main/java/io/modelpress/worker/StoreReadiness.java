package io.modelpress.worker;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.store.ArtifactStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready only while the artifact store answers: without it every request would fail its download. */
@Readiness
@ApplicationScoped
public class StoreReadiness implements HealthCheck {
    @Inject
    ArtifactStore store;

    @Override
    public HealthCheckResponse call() {
        try {
            boolean exists = store.bucketExists();
            return HealthCheckResponse.named("artifact-store").status(exists).withData("bucket", store.bucket())
                    .withData("problem", exists ? "none" : "the bucket does not exist").build();
        } catch (ModelPressException e) {
            return HealthCheckResponse.named("artifact-store").down().withData("bucket", store.bucket())
                    .withData("problem", e.getMessage()).build();
        }
    }
}
