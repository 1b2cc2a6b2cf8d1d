package io.modelpress.train.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.prune.LayerOptions;
import io.modelpress.core.prune.LayerPruner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Text batches cut to their longest sample: the cut inputs and the cut teacher outputs (from the cache) are what the
 * teacher computes on the cut batch itself, and the pooled cosine loss sees only the unmasked tokens.
 */
class TokenCutTest {
    @TempDir
    Path dir;

    @Test
    void cutBatchesGiveTheTeacherOutputsOfTheCutBatch() throws Exception {
        Path model = dir.resolve("minilm-1.onnx");
        OnnxModel oneLayer = OnnxModel.read(ReferenceModels.minilm());
        LayerPruner.prune(oneLayer, LayerOptions.keep(1));
        oneLayer.write(model);
        Path data = Files.writeString(dir.resolve("text.jsonl"), """
                {"text": "Short one."}
                {"text": "A rather longer sentence that needs many more tokens than the others do."}
                {"text": "Two words."}
                {"text": "A middle sized sentence about rivers."}
                """);
        List<ValueShape> inputs = oneLayer.inputs();
        SampleSet samples = SampleSet.read(data, inputs, DataOptions.DEFAULT.withTokenizer(ReferenceModels.minilmTokenizer()), 100);
        int padded = samples.paddedTokens();
        int[] shortRows = {0, 2};
        int shortest = samples.tokens(shortRows);
        assertThat(shortest).isLessThan(samples.tokens(new int[] {1})).isLessThan(padded);
        assertThat(samples.tokens(new int[] {0, 1, 2, 3})).isEqualTo(padded);
        assertThat(samples.tokenInputs()).contains("input_ids", "attention_mask");

        Map<String, HostArray> cut = samples.inputs(shortRows, shortest);
        assertThat(cut.get("input_ids").shape()).containsExactly(2, shortest);
        Map<String, HostArray> full = samples.inputs(shortRows);
        for (int r = 0; r < 2; r++) {
            for (int t = 0; t < shortest; t++) {
                assertThat(cut.get("input_ids").getLong(r * shortest + t)).isEqualTo(full.get("input_ids").getLong(r * padded + t));
            }
        }
        assertThat(samples.attentionMask(shortRows, shortest).shape()).containsExactly(2, shortest);

        List<String> outputs = oneLayer.outputs().stream().map(ValueShape::name).toList();
        try (Teacher teacher = Teacher.open(model, SessionSettings.DEFAULT.withThreads(1), inputs, outputs, outputs, Map.of())) {
            int[] all = {0, 1, 2, 3};
            Map<String, Teacher.Target> probe = teacher.run(samples.inputs(all));
            assertThat(teacher.allowCutTokens(samples, all, probe)).isTrue();
            assertThat(teacher.cache(samples, 2)).isTrue();
            Teacher.Target fromCache = teacher.targets(samples, shortRows, shortest).get("last_hidden_state");
            Teacher.Target direct = teacher.run(cut).get("last_hidden_state");
            assertThat(fromCache.shape()).containsExactly(direct.shape());
            assertThat(fromCache.shape()[1]).isEqualTo(shortest);
            HostArray mask = samples.attentionMask(shortRows, shortest);
            int width = (int) direct.shape()[2];
            for (int r = 0; r < 2; r++) {
                for (int t = 0; t < shortest; t++) {
                    if (mask.getLong(r * shortest + t) == 0) {
                        continue;
                    }
                    for (int k = 0; k < width; k++) {
                        int i = (r * shortest + t) * width + k;
                        assertThat(fromCache.values()[i]).isCloseTo(direct.values()[i], within(1e-4f));
                    }
                }
            }
        }
    }

    @Test
    void pooledCosineIgnoresMaskedTokensAndTokenOrder() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            // one sample of three tokens, the last masked: the student's first two tokens are the teacher's swapped
            float[] teacher = {1, 0, 0, 1, 5, 5};
            float[] student = {0, 1, 1, 0, -7, 3};
            HostArray mask = HostArray.of(new long[] {1, 1, 0}, 1, 3);
            NDArray t = manager.create(teacher, new Shape(1, 3, 2));
            NDArray s = manager.create(student, new Shape(1, 3, 2));
            assertThat(DistillLoss.pooledCosineLoss(manager, s, t, mask).getFloat()).isCloseTo(0f, within(1e-6f));
            // the token-level cosine sees the swap: both unmasked tokens are orthogonal to their teacher token
            assertThat(DistillLoss.cosineLoss(manager, s, t, mask).getFloat()).isCloseTo(1f, within(1e-6f));
            // unmasked, the third token counts
            HostArray open = HostArray.of(new long[] {1, 1, 1}, 1, 3);
            assertThat(DistillLoss.pooledCosineLoss(manager, s, t, open).getFloat()).isGreaterThan(0.1f);
        }
    }
}
