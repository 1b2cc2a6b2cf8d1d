package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.AttentionMaskFold;
import io.modelpress.core.transform.FloatEquivalence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class IntegerMaskColumnsTest {
    /** HuggingFace's mask constant: torch.finfo(float32).min. */
    private static final float LOWEST = -Float.MAX_VALUE;

    @TempDir
    Path dir;

    /** The encoder with its masks folded and its MatMuls quantized: the graph the rewrite meets in the quantizer. */
    private static OnnxModel foldedAndQuantized(float maskConstant) {
        OnnxModel model = OnnxModel.of(SmallModels.model(SequenceMajorLayoutTest.encoder(2, false, maskConstant, new Random(5)), 17));
        assertThat(new AttentionMaskFold().apply(model).changes()).isEqualTo(2);
        DynamicQuantizer.quantizeNodes(model, DynamicOptions.DEFAULT, new HashMap<>(), new QuantizationReport("dynamic"));
        return model;
    }

    @Test
    void theMaskMovesIntoTheQuantizedKeyInputWithTheSameOutputsEvenForFullyMaskedRows() {
        OnnxModel model = foldedAndQuantized(LOWEST);
        Path before = dir.resolve("before.onnx");
        Path after = dir.resolve("after.onnx");
        model.write(before);
        long floatConcatsBefore = count(model, "Concat");

        assertThat(new IntegerMaskColumns().apply(model).changes()).isEqualTo(2);
        model.write(after);

        OnnxChecker.assertValid(after);
        // one Where for the shared mask columns, one Concat over bytes per layer; the float Concats over K are gone
        assertThat(count(model, "Where")).isEqualTo(1);
        assertThat(count(model, "Concat")).isEqualTo(floatConcatsBefore);
        assertThat(model.graph().getNodeList()).noneMatch(n -> n.getOpType().equals("Concat")
                && n.getInputList().stream().anyMatch(i -> i.endsWith("key_column")));
        // row b of each batch ends in b padding tokens; in the 2 x 1 batch the second row is all padding
        for (int[] shape : new int[][] {{3, 5}, {1, 4}, {2, 1}, {4, 7}}) {
            SequenceMajorLayoutTest.Tokens tokens = SequenceMajorLayoutTest.Tokens.random(shape[0], shape[1], new Random(shape[0] * 7L + shape[1]));
            List<float[]> expected = SequenceMajorLayoutTest.run(before, tokens);
            List<float[]> actual = SequenceMajorLayoutTest.run(after, tokens);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(FloatEquivalence.relativeDifference(expected.get(i), actual.get(i)))
                        .as("output %d at %dx%d", i, shape[0], shape[1]).isLessThanOrEqualTo(1e-5);
            }
        }
    }

    @Test
    void aMaskConstantWithinReachOfTheScoresIsLeftInFloat() {
        // with -10000 a fully masked row still follows the scores, which a drowning constant would flatten
        OnnxModel model = foldedAndQuantized(-10000f);
        byte[] original = model.build().toByteArray();

        assertThat(new IntegerMaskColumns().apply(model).changedModel()).isFalse();
        assertThat(model.build().toByteArray()).isEqualTo(original);
    }

    @Test
    void theDynamicQuantizerMovesTheMasksAfterTheLayoutAndSaysSo() {
        OnnxModel model = OnnxModel.of(SmallModels.model(SequenceMajorLayoutTest.encoder(2, false, LOWEST, new Random(3)), 17));
        QuantizationReport report = DynamicQuantizer.quantize(model, DynamicOptions.DEFAULT, SequenceMajorLayoutTest.tokenBatches());

        assertThat(report.notes().get("layout")).startsWith("sequence-major token layout");
        assertThat(report.notes().get("mask_columns")).startsWith("2 attention masks appended to K's quantized input");
        assertThat(count(model, "Where")).isEqualTo(1);
    }

    @Test
    void theOutputCheckUndoesTheRewriteWhereMasksAreNotBetweenZeroAndOne() {
        // without data this model's float mask input is checked with Gaussian values: above 1 the exporter's
        // (1 - mask) * lowest overflows, which the rewrite does not reproduce, so the check must refuse it
        OnnxModel model = OnnxModel.of(SmallModels.model(SequenceMajorLayoutTest.encoder(2, false, LOWEST, new Random(3)), 17));
        QuantizationReport report = DynamicQuantizer.quantize(model, DynamicOptions.DEFAULT, CalibrationData.NONE);

        assertThat(report.notes().get("mask_columns")).startsWith("float mask columns kept: the rewritten model deviated");
        assertThat(count(model, "Where")).isZero();
        assertThat(report.notes().get("attention_masks")).startsWith("2 attention masks and score scales folded");
    }

    private static long count(OnnxModel model, String opType) {
        return model.graph().getNodeList().stream().map(NodeProto::getOpType).filter(opType::equals).count();
    }
}
