package io.modelpress.pipeline.events;

import io.modelpress.core.recipe.StageSpec;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Work for one stage of one run. (runId, stageIndex, attempt) identifies it: outputs are written under keys derived
 * from it, so a duplicate delivery finds its output complete and re-publishes the result instead of recomputing.
 *
 * @param params    the stage's validated recipe parameters (defaults applied)
 * @param input     the model this stage transforms (the previous stage's output)
 * @param original  the run's original model (teacher / reference for evaluation)
 * @param data      sample data files (calibration, evaluation)
 * @param tokenizer a tokenizer.json for text data, or null
 * @param deadline  when the orchestrator gives up on this attempt
 * @param noCache   the recipe says {@code cache: false}: compute, and keep nothing in the workers' result cache
 *                  (absent in requests of older orchestrators: false)
 */
public record StageRequest(String runId, int stageIndex, int attempt, String stageType, Map<String, Object> params,
                           ArtifactRef input, ArtifactRef original, List<ArtifactRef> data, ArtifactRef tokenizer,
                           Instant deadline, boolean noCache) {
    public StageRequest {
        params = params == null ? Map.of() : params;
        data = data == null ? List.of() : List.copyOf(data);
    }

    public StageRequest(String runId, int stageIndex, int attempt, String stageType, Map<String, Object> params,
                        ArtifactRef input, ArtifactRef original, List<ArtifactRef> data, ArtifactRef tokenizer, Instant deadline) {
        this(runId, stageIndex, attempt, stageType, params, input, original, data, tokenizer, deadline, false);
    }

    /** Object key prefix of this attempt's outputs: {@code runs/<run>/<NN>-<stage>-a<attempt>/}. */
    public String outputPrefix() {
        return "runs/" + runId + "/" + StageSpec.label(stageIndex, stageType) + "-a" + attempt + "/";
    }
}
