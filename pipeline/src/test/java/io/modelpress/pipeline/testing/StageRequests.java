package io.modelpress.pipeline.testing;

import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.store.ArtifactStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Builds requests over real models in the store. */
public final class StageRequests {
    private StageRequests() {
    }

    public static String newRunId() {
        return "test-" + UUID.randomUUID().toString().substring(0, 13);
    }

    /** A small real MLP (ONNX, opset 13) uploaded as the run's input. */
    public static ArtifactRef uploadSmallModel(ArtifactStore store, String runId, Path dir) throws java.io.IOException {
        Path file = dir.resolve(runId + "-input.onnx");
        Files.write(file, SmallModels.mlp(8, 16, 4, false, 7).toByteArray());
        return store.put("runs/" + runId + "/input/model.onnx", file);
    }

    public static StageRequest request(String runId, String type, ArtifactRef input, Map<String, Object> params) {
        return new StageRequest(runId, 0, 1, type, params, input, input, List.of(), null,
                Instant.now().plus(Duration.ofHours(1)));
    }
}
