package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;

/**
 * What a stage produced.
 *
 * @param model       the model after this stage: a new file for transforming stages, the input for evaluation
 * @param report      the stage's report (what was done, metrics); becomes stage.json and part of report.json
 * @param gateFailure why a quality gate failed, or null when it passed or there was none
 */
public record StageOutcome(Path model, ObjectNode report, String gateFailure) {
    public boolean gatePassed() {
        return gateFailure == null;
    }
}
