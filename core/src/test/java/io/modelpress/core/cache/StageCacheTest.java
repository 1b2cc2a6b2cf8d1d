package io.modelpress.core.cache;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StageCacheTest {
    @TempDir
    Path dir;

    private Path model(String name, long seed) {
        Path file = dir.resolve(name);
        OnnxModel.of(SmallModels.mlp(32, 64, 10, false, seed)).write(file);
        return file;
    }

    private static StageSpec spec(String stage) {
        return RecipeParser.parse("stages:\n  - " + stage + "\n", "t.yaml").stages().get(0);
    }

    private static ObjectNode report(String value) {
        return JsonNodeFactory.instance.objectNode().put("what", value);
    }

    @Test
    void theKeyChangesWithEveryInputThatChangesTheResultAndNotWithOthers() throws Exception {
        Path a = model("a.onnx", 1);
        Path b = model("b.onnx", 2);
        Path data = Files.writeString(dir.resolve("data.jsonl"), "{\"text\": \"one\"}\\n");
        StageSpec dynamic = spec("quantize: { mode: dynamic }");
        String key = StageKey.of(dynamic, Object.class, a, a, List.of(data), null, InputHints.NONE);

        assertThat(StageKey.of(dynamic, Object.class, a, a, List.of(data), null, InputHints.NONE)).isEqualTo(key);
        // the same bytes under another name are the same input
        Path copy = Files.copy(a, dir.resolve("copy.onnx"));
        assertThat(StageKey.of(dynamic, Object.class, copy, copy, List.of(data), null, InputHints.NONE)).isEqualTo(key);
        assertThat(StageKey.of(dynamic, Object.class, b, a, List.of(data), null, InputHints.NONE)).isNotEqualTo(key);
        assertThat(StageKey.of(dynamic, Object.class, a, b, List.of(data), null, InputHints.NONE)).isNotEqualTo(key);
        assertThat(StageKey.of(spec("quantize: { mode: dynamic, granularity: per-tensor }"), Object.class, a, a, List.of(data), null,
                InputHints.NONE)).isNotEqualTo(key);
        assertThat(StageKey.of(dynamic, Object.class, a, a, List.of(), null, InputHints.NONE)).isNotEqualTo(key);
        assertThat(StageKey.of(dynamic, Object.class, a, a, List.of(data), null, InputHints.parse(List.of("x=1x32"), List.of())))
                .isNotEqualTo(key);
        Files.writeString(data, "{\"text\": \"two\"}\\n");
        Files.setLastModifiedTime(data, FileTime.fromMillis(Files.getLastModifiedTime(data).toMillis() + 5000));
        assertThat(StageKey.of(dynamic, Object.class, a, a, List.of(data), null, InputHints.NONE)).isNotEqualTo(key);
    }

    @Test
    void anEntryComesBackWholeAndThePassThroughKeepsNoModel() {
        Path input = model("in.onnx", 1);
        Path output = model("out.onnx", 2);
        StageCache cache = StageCache.open(dir.resolve("cache"), StageCache.DEFAULT_MAX_BYTES);
        assertThat(cache.get("k1")).isEmpty();

        cache.put("k1", new StageOutcome(output, report("quantized"), null), input);
        cache.put("k2", new StageOutcome(input, report("evaluated"), "02-eval: min_cosine = 0.5"), input);

        StageCache.Entry quantized = cache.get("k1").orElseThrow();
        assertThat(quantized.report().get("what").asText()).isEqualTo("quantized");
        assertThat(quantized.gateFailure()).isNull();
        assertThat(OnnxModel.read(quantized.model()).build()).isEqualTo(OnnxModel.read(output).build());
        StageCache.Entry evaluated = cache.get("k2").orElseThrow();
        assertThat(evaluated.model()).isNull();
        assertThat(evaluated.gateFailure()).isEqualTo("02-eval: min_cosine = 0.5");
    }

    @Test
    void aDamagedEntryIsAMissAndTheFolderStaysWithinItsBound() throws Exception {
        Path input = model("in.onnx", 1);
        long modelBytes = Files.size(input);
        // room for two entries, not three
        StageCache cache = StageCache.open(dir.resolve("cache"), 2 * modelBytes + 2_000);
        cache.put("old", new StageOutcome(model("o1.onnx", 3), report("old"), null), input);
        Files.setLastModifiedTime(dir.resolve("cache/old/stage.json"), FileTime.fromMillis(1000));
        cache.put("used", new StageOutcome(model("o2.onnx", 4), report("used"), null), input);
        Files.setLastModifiedTime(dir.resolve("cache/used/stage.json"), FileTime.fromMillis(2000));
        assertThat(cache.get("old")).isPresent(); // used now: the most recent

        cache.put("new", new StageOutcome(model("o3.onnx", 5), report("new"), null), input);
        assertThat(cache.get("used")).as("the least recently used entry is evicted").isEmpty();
        assertThat(cache.get("old")).isPresent();
        assertThat(cache.get("new")).isPresent();

        Files.writeString(dir.resolve("cache/new/stage.json"), "{ not json");
        assertThat(cache.get("new")).isEmpty();
    }
}
