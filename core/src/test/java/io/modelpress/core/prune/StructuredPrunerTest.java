package io.modelpress.core.prune;

import ai.onnx.proto.OnnxMl.ModelProto;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.CalibrationData;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.PruningModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class StructuredPrunerTest {
    @TempDir
    Path dir;

    @Test
    void residualConcatDepthwiseCnnLosesHalfItsChannelsAndStillRuns() {
        ModelProto original = PruningModels.residualCnn(1, false);
        OnnxModel model = OnnxModel.of(original);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5), CalibrationData.NONE);
        System.out.println(report.toJson().toPrettyString());
        Path before = dir.resolve("before.onnx");
        Path after = dir.resolve("after.onnx");
        OnnxModel.of(original).write(before);
        model.write(after);

        assertThat(report.changed()).isTrue();
        assertThat(report.after().parameters()).isLessThan(report.before().parameters() / 2);
        assertThat(report.after().macs()).isLessThan(report.before().macs() / 2);
        float[] x = input(2 * 3 * 16 * 16, 7);
        float[] y0 = Ort.runFirstOutput(before, Map.of("x", new Ort.Floats(x, 2, 3, 16, 16)));
        float[] y1 = Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(x, 2, 3, 16, 16)));
        assertThat(y1).hasSameSizeAs(y0);
        assertThat(model.inputs()).isEqualTo(OnnxModel.of(original).inputs());
        assertThat(model.outputs()).isEqualTo(OnnxModel.of(original).outputs());
        OnnxChecker.assertValid(after);
    }

    static float[] input(int n, long seed) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }
}
