package io.modelpress.pipeline.testing;

import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
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

    /** Uploads {@code bytes} as {@code runs/<runId>/<name>}, through a file in {@code dir}. */
    public static ArtifactRef upload(ArtifactStore store, String runId, String name, byte[] bytes, Path dir) throws java.io.IOException {
        Path file = dir.resolve(runId + "-" + name.replace('/', '-'));
        Files.write(file, bytes);
        return store.put("runs/" + runId + "/" + name, file);
    }

    /** The first final result of the run on the stage-results topic; fails the test when none comes within {@code wait}. */
    public static StageResult finalResult(String bootstrapServers, String runId, Duration wait) {
        return Topic.read(bootstrapServers, Topics.STAGE_RESULTS, runId,
                        records -> records.stream().anyMatch(r -> Json.read(r.value(), StageResult.class).isFinal()), wait)
                .stream().map(r -> Json.read(r.value(), StageResult.class)).filter(StageResult::isFinal)
                .findFirst().orElseThrow(() -> new AssertionError("no final result for " + runId + " within " + wait));
    }

    public static StageRequest request(String runId, String type, ArtifactRef input, Map<String, Object> params) {
        return new StageRequest(runId, 0, 1, type, params, input, input, List.of(), null,
                Instant.now().plus(Duration.ofHours(1)));
    }
}
