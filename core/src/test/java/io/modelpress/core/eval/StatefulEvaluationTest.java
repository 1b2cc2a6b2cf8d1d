package io.modelpress.core.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.testing.StatefulVad;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * A stateful model shaped like Silero VAD (scalar sample rate, recurrent state [2, batch, 128], reflect Pad that needs
 * a minimum length) evaluated from a data file and from hinted synthetic inputs.
 */
class StatefulEvaluationTest {
    static final int SAMPLES = 7;
    static final int LENGTH = 600;

    @TempDir
    Path dir;

    final Random random = new Random(3);
    final float[] audio = floats(SAMPLES * LENGTH, 0.5f);
    final float[] state = floats(2 * SAMPLES * StatefulVad.STATE, 0.3f);

    float[] floats(int n, float scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) random.nextGaussian() * scale;
        }
        return out;
    }

    Path data() {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", HostArray.of(audio, SAMPLES, LENGTH));
        arrays.put("sr", HostArray.of(new long[] {16000}));
        arrays.put("state", HostArray.of(state, 2, SAMPLES, StatefulVad.STATE));
        Path file = dir.resolve("vad.npz");
        NpyWriter.writeNpz(file, arrays, true);
        return file;
    }

    /** Both outputs of one sample, run alone (batch 1) straight through ONNX Runtime. */
    float[][] runAlone(Path model, int sample) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[] sampleState = new float[2 * StatefulVad.STATE];
        for (int r = 0; r < 2; r++) {
            System.arraycopy(state, (r * SAMPLES + sample) * StatefulVad.STATE, sampleState, r * StatefulVad.STATE, StatefulVad.STATE);
        }
        float[] sampleAudio = java.util.Arrays.copyOfRange(audio, sample * LENGTH, (sample + 1) * LENGTH);
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(model.toString(), options);
             OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(sampleAudio), new long[] {1, LENGTH});
             OnnxTensor sr = OnnxTensor.createTensor(env, 16000L);
             OnnxTensor stateIn = OnnxTensor.createTensor(env, FloatBuffer.wrap(sampleState), new long[] {2, 1, StatefulVad.STATE});
             OrtSession.Result result = session.run(Map.of("input", input, "sr", sr, "state", stateIn))) {
            return new float[][] {values((OnnxTensor) result.get("output").orElseThrow()), values((OnnxTensor) result.get("stateN").orElseThrow())};
        }
    }

    static float[] values(OnnxTensor tensor) {
        FloatBuffer buffer = tensor.getFloatBuffer();
        float[] out = new float[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    @Test
    void aDataFileWithInputSampleRateAndStateEvaluatesPerSample() throws Exception {
        Path model = StatefulVad.write(dir.resolve("model.onnx"), 1);
        Path reference = StatefulVad.write(dir.resolve("reference.onnx"), 2);
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, data()).withReference(reference)
                .withBatchSize(3).withLatencyBudget(java.time.Duration.ofSeconds(1)));

        assertThat(report.samples()).isEqualTo(SAMPLES);
        assertThat(report.notes()).noneMatch(n -> n.contains("batch size"));
        double sum = 0;
        double worst = 1;
        double mseSum = 0;
        for (int s = 0; s < SAMPLES; s++) {
            float[] m = runAlone(model, s)[1];
            float[] r = runAlone(reference, s)[1];
            double c = cosine(m, r);
            sum += c;
            worst = Math.min(worst, c);
            double squared = 0;
            for (int i = 0; i < m.length; i++) {
                squared += ((double) m[i] - r[i]) * ((double) m[i] - r[i]);
            }
            mseSum += squared / m.length;
        }
        EvaluationReport.OutputMetrics stateN = report.outputs().get("stateN");
        assertThat(stateN.cosine().mean()).isCloseTo(sum / SAMPLES, within(1e-5));
        assertThat(stateN.cosine().worst()).isCloseTo(worst, within(1e-5));
        assertThat(stateN.cosine().mean()).isLessThan(0.99); // different weights: a real difference was measured
        assertThat(stateN.mse().mean()).isCloseTo(mseSum / SAMPLES, within(1e-6));
        assertThat(report.outputs()).containsKey("output");
        assertThat(report.timings().batchN().batch()).isEqualTo(3);
    }

    @Test
    void theModelAgainstItselfIsExactOnEveryOutput() throws Exception {
        Path model = StatefulVad.write(dir.resolve("model.onnx"), 1);
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, data()).withReference(model).withBatchSize(4).withLatencyBudget(java.time.Duration.ZERO));
        assertThat(report.samples()).isEqualTo(SAMPLES);
        report.outputs().values().forEach(o -> assertThat(o.mse().worst()).isZero());
    }

    @Test
    void syntheticInputsWithHintsRun() throws Exception {
        Path model = StatefulVad.write(dir.resolve("model.onnx"), 1);
        InputHints hints = InputHints.parse(List.of("input=1x512"), List.of("sr=16000"));
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, null).withReference(model)
                .withDataOptions(DataOptions.DEFAULT.withLimit(10)).withHints(hints).withBatchSize(4).withLatencyBudget(java.time.Duration.ofSeconds(1)));
        assertThat(report.samples()).isEqualTo(10);
        assertThat(report.outputs().keySet()).containsExactly("output", "stateN");
        assertThat(report.outputs().get("stateN").cosine().worst()).isCloseTo(1.0, within(1e-6));
        assertThat(report.notes()).anyMatch(n -> n.contains("synthetic"));
        assertThat(report.timings().batch1()).isNotNull();

        // 8 kHz needs a shorter minimum: 33 samples do at 8 kHz, not at 16 kHz
        InputHints short8k = InputHints.parse(List.of("input=33"), List.of("sr=8000"));
        assertThat(Evaluator.run(EvaluationRequest.of(model, null).withHints(short8k).withLatencyBudget(java.time.Duration.ZERO)).samples()).isPositive();
        InputHints short16k = InputHints.parse(List.of("input=33"), List.of("sr=16000"));
        assertThatThrownBy(() -> Evaluator.run(EvaluationRequest.of(model, null).withHints(short16k).withLatencyBudget(java.time.Duration.ZERO)))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("k16_pad").hasMessageContaining("give a data file");
    }

    @Test
    void withoutHintsTheErrorNamesTheInputAndTheFix() throws Exception {
        Path model = StatefulVad.write(dir.resolve("model.onnx"), 1);
        ModelPressException e = (ModelPressException) org.assertj.core.api.Assertions.catchThrowable(
                () -> Evaluator.run(EvaluationRequest.of(model, null).withLatencyBudget(java.time.Duration.ZERO)));
        assertThat(e).isNotNull();
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage())
                .startsWith("model model.onnx: ONNX Runtime failed to run it: If node 'by_rate': Pad node ")
                .contains("Pad reflect").contains("'samples' = 32").contains("--shape input=1xN").contains("--value sr=V")
                .contains("shape and value keys").contains("--data")
                .doesNotContain("Error code -").doesNotContain("Non-zero status code").doesNotContain("\n");
    }

    @Test
    void aLoadFailureIsWrappedWithOrtsReasonOnly() throws Exception {
        Path broken = dir.resolve("broken.onnx");
        java.nio.file.Files.write(broken, new byte[] {8, 1, 18, 3, 'a', 'b', 'c'});
        ModelPressException e = (ModelPressException) org.assertj.core.api.Assertions.catchThrowable(
                () -> ModelSession.open(broken, SessionSettings.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.RUNTIME_ERROR);
        assertThat(e.getMessage()).startsWith("model broken.onnx: ONNX Runtime cannot load it: ").doesNotContain("Error code -");
    }

    @Test
    void stateLikeOutputsAreComparedAlongTheirBatchAxis() {
        HostArray batchOf2 = HostArray.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2);
        // [r, s, k]: sample 0 is {1, 2, 5, 6}, sample 1 is {3, 4, 7, 8}
        HostArray sampleFirst = batchOf2.axisFirst(1);
        assertThat(sampleFirst.shape()).containsExactly(2, 2, 2);
        assertThat(sampleFirst.toFloats()).containsExactly(1, 2, 5, 6, 3, 4, 7, 8);
        HostArray other = HostArray.of(new float[] {1, 2, -3, -4, 5, 6, -7, -8}, 2, 2, 2);
        OutputComparison comparison = new OutputComparison("stateN", "stateN", 1);
        comparison.add(batchOf2, other, null, 2);
        EvaluationReport.OutputMetrics metrics = comparison.result();
        assertThat(metrics.cosine().worst()).isCloseTo(-1.0, within(1e-9)); // sample 1 is negated
        assertThat(metrics.cosine().mean()).isCloseTo(0.0, within(1e-9));
        assertThat(HostArray.zeros(DataType.FLOAT, 2, 3).axisFirst(0).shape()).containsExactly(2, 3);
    }
}
