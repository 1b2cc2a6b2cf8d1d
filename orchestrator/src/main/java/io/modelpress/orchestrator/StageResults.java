package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageResult;
import io.smallrye.reactive.messaging.annotations.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * Consumes {@code modelpress.stage-results}. The offset of a result is committed only after this method returns,
 * that is after the state change it caused was written to the runs topic: a crash in between redelivers the result,
 * and the engine recognises it as already handled. A result that cannot be handled is logged and skipped rather than
 * stopping the consumer: its stage then runs into its deadline and is retried.
 */
@ApplicationScoped
public class StageResults {
    private static final Logger LOG = Logger.getLogger(StageResults.class);

    @Inject
    RunEngine engine;

    @Incoming("stage-results")
    @Blocking
    public void onResult(byte[] json) {
        StageResult result;
        try {
            result = Json.read(json, StageResult.class);
        } catch (ModelPressException e) {
            LOG.warnf("Skipping an unreadable stage result: %s", e.getMessage());
            return;
        }
        try {
            engine.onResult(result);
        } catch (RuntimeException e) {
            LOG.errorf(e, "Result of %s stage %d attempt %d could not be handled", result.runId(), result.stageIndex(),
                    result.attempt());
        }
    }
}
