package io.modelpress.worker;

import io.modelpress.core.stage.Stages;
import io.modelpress.pipeline.worker.WorkerSettings;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Says in /q/health which stage types this worker runs ({@code runs}), the topics it takes them from, and every stage
 * type the process has ({@code available}: core's and those of jars on MODELPRESS_STAGE_PATH). Up whenever the worker
 * started: a configured type that the process lacks fails the start.
 */
@Readiness
@ApplicationScoped
public class StageTypesCheck implements HealthCheck {
    @Inject
    WorkerSettings settings;

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("stage-types").up()
                .withData("runs", String.join(",", settings.stageTypes()))
                .withData("topics", StageTopicsConfigSource.topics(settings.stageTypes()))
                .withData("available", String.join(",", Stages.types()))
                .build();
    }
}
