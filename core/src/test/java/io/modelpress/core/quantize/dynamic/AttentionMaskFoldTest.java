package io.modelpress.core.quantize.dynamic;

import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.AttentionMaskFold;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

class AttentionMaskFoldTest {
    @TempDir
    Path dir;

    @Test
    void masksAndScalesMoveIntoTheProductsWithTheSameOutputsOnPaddedBatches() {
        OnnxModel model = OnnxModel.of(SmallModels.model(SequenceMajorLayoutTest.encoder(2, false, new Random(5)), 17));
        Path before = dir.resolve("before.onnx");
        Path after = dir.resolve("after.onnx");
        model.write(before);

        assertThat(new AttentionMaskFold().apply(model).changes()).isEqualTo(2);
        model.write(after);

        OnnxChecker.assertValid(after);
        Map<String, Integer> opsBefore = OptimizedGraph.opCounts(before);
        Map<String, Integer> opsAfter = OptimizedGraph.opCounts(after);
        // per layer the Div and the mask Add are gone, one Concat over K came in
        assertThat(opsAfter.getOrDefault("Add", 0)).isEqualTo(opsBefore.getOrDefault("Add", 0) - 2);
        assertThat(opsAfter.getOrDefault("Div", 0)).isEqualTo(0);
        assertThat(opsAfter.getOrDefault("Concat", 0)).isGreaterThanOrEqualTo(2);
        // the later rows of every batch end in padding: masked keys must stay masked
        for (int[] shape : new int[][] {{3, 5}, {1, 4}, {2, 1}}) {
            SequenceMajorLayoutTest.Tokens tokens = SequenceMajorLayoutTest.Tokens.random(shape[0], shape[1], new Random(shape[0] * 7L + shape[1]));
            List<float[]> expected = SequenceMajorLayoutTest.run(before, tokens);
            List<float[]> actual = SequenceMajorLayoutTest.run(after, tokens);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(actual.get(i)).containsExactly(expected.get(i), offset(1e-5f));
            }
        }
    }

    @Test
    void mergedProjectionsAreLeftAlone() {
        OnnxModel model = OnnxModel.of(SmallModels.model(SequenceMajorLayoutTest.encoder(2, true, new Random(5)), 17));
        byte[] original = model.build().toByteArray();

        assertThat(new AttentionMaskFold().apply(model).changedModel()).isFalse();
        assertThat(model.build().toByteArray()).isEqualTo(original);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theDynamicQuantizerFoldsWithTheSequenceMajorLayoutAndSaysSo(boolean sequenceMajor) {
        OnnxModel model = OnnxModel.of(SmallModels.model(SequenceMajorLayoutTest.encoder(2, false, new Random(5)), 17));
        QuantizationReport report = DynamicQuantizer.quantize(model, DynamicOptions.DEFAULT.withSequenceMajor(sequenceMajor),
                CalibrationData.NONE);
        if (sequenceMajor) {
            assertThat(report.notes().get("attention_masks")).startsWith("2 attention masks and score scales folded into the Q.K products (outputs checked unchanged)");
        } else {
            assertThat(report.notes()).doesNotContainKey("attention_masks");
            assertThat(model.graph().getNodeList()).anyMatch(n -> n.getOpType().equals("Div"));
        }
    }
}
