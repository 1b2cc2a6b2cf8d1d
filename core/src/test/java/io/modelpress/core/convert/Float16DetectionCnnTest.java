package io.modelpress.core.convert;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.convert.ConversionReport.KeptNode;
import io.modelpress.core.convert.ConversionReport.Rule;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.DetectionCnn;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.ValueTypes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The detection CNN of issue 20 (weights in Constant nodes, a -1e9 class mask, a threshold, computed Resize scales, a
 * 1e-10 log floor, areas beyond 65504, an Exp that overflows float16): a naive float16 conversion loses outputs, the
 * checked conversion keeps every output at cosine 0.999 or better to float32 at two input sizes, judged here in ONNX
 * Runtime on inputs of its own (not the converter's check data).
 */
class Float16DetectionCnnTest {
    /** The bound every output must meet at both sizes; the converter checks the same bound on its own data. */
    static final double MIN_COSINE = 0.999;
    /** Two image sizes (batch, channels, height, width), both different from the check's synthetic 32 x 32. */
    static final long[][] SIZES = {{2, 3, 64, 48}, {1, 3, 40, 96}};

    @TempDir
    Path dir;

    @Test
    void naiveFloat16LosesTheDetectionsAndTheLogScores() throws Exception {
        OnnxModel model = OnnxModel.of(DetectionCnn.build(1));
        Path original = dir.resolve("det.onnx");
        model.write(original);
        ConversionReport report = Float16Converter.convert(model, Float16Converter.Options.DEFAULT, ValueTypes.infer(model),
                Float16Converter.Plan.NAIVE).report();
        Path naive = dir.resolve("det-naive.onnx");
        model.write(naive);

        assertThat(report.keptNodes()).isEmpty();
        assertThat(report.clampedValues()).isEqualTo(3); // the two -1e9 mask entries and the image area
        for (long[] size : SIZES) {
            Map<String, float[]> feeds = Map.of("image", gaussian(size, 11));
            Map<String, float[]> expected = run(original, feeds, size);
            Map<String, float[]> actual = run(naive, feeds, size);
            assertThat(Fidelity.cosine(expected.get("detections"), actual.get("detections"))).as("detections at %s", size[2])
                    .isLessThan(0.5);
            assertThat(Fidelity.cosine(expected.get("log_scores"), actual.get("log_scores"))).as("log_scores at %s", size[2])
                    .isLessThan(0.5);
            // the clamped divisor leaves the areas' direction (cosine) alone but makes them 16 times too large
            assertThat(Fidelity.maxRelativeError(expected.get("areas"), actual.get("areas"))).isGreaterThan(10);
        }
    }

    @Test
    void checkedFloat16KeepsEveryOutputAtBothSizes() throws Exception {
        OnnxModel model = OnnxModel.of(DetectionCnn.build(1));
        Path original = dir.resolve("det.onnx");
        model.write(original);
        var data = new DatasetCalibration(null, model.inputs(), DataOptions.DEFAULT.withLimit(8));
        ConversionReport report = AutoMixedPrecision.convert(model, Float16Converter.Options.DEFAULT,
                new AutoMixedPrecision.Settings(data, "synthetic inputs", 8, MIN_COSINE, 1));
        Path converted = dir.resolve("det-fp16.onnx");
        model.write(converted);
        System.out.println("detection CNN fp16: " + report.toJson());

        assertThat(report.check().passed()).isTrue();
        assertThat(report.check().cosines()).containsOnlyKeys(DetectionCnn.OUTPUTS)
                .allSatisfy((output, cosine) -> assertThat(cosine).isGreaterThanOrEqualTo(MIN_COSINE));
        assertThat(report.clampedValues()).isZero();
        Map<String, Rule> kept = new LinkedHashMap<>();
        report.keptNodes().forEach(k -> kept.put(k.node(), k.rule()));
        assertThat(kept).containsEntry("cls.masked", Rule.RANGE).containsEntry("areas", Rule.RANGE)
                .containsEntry("conf.keep", Rule.THRESHOLD).containsEntry("log.clip", Rule.ROUNDING)
                .containsEntry("up.ratio", Rule.RESIZE).containsEntry("up.scales", Rule.RESIZE)
                .containsEntry("heat.exp", Rule.OVERFLOW).containsEntry("box.area", Rule.OVERFLOW).containsEntry("det.cat", Rule.OVERFLOW);
        assertThat(report.keptNodes()).filteredOn(k -> k.rule() == Rule.OVERFLOW).extracting(KeptNode::reason)
                .allSatisfy(r -> assertThat(r).contains("on the check data"));
        // the convolutions and activations, which hold nearly all weights, compute in float16
        assertThat(kept).doesNotContainKeys("stem", "stem.hswish", "dw1", "dw1.hsigmoid", "dw1.hswish", "pw1", "pw1.relu6", "up",
                "fuse", "head.dw", "head.hswish", "head.pw");
        assertThat(report.floatBytesAfter() * 2).isEqualTo(report.floatBytesBefore());
        assertThat(report.floatBytesBefore()).isGreaterThan(7000); // every weight (7.5 kB in all) but a few scalars

        for (long[] size : SIZES) {
            for (boolean uniform : new boolean[] {false, true}) {
                Map<String, float[]> feeds = Map.of("image", uniform ? uniform(size, 12) : gaussian(size, 12));
                Map<String, float[]> expected = run(original, feeds, size);
                Map<String, float[]> actual = run(converted, feeds, size);
                for (String output : DetectionCnn.OUTPUTS) {
                    assertThat(Fidelity.cosine(expected.get(output), actual.get(output)))
                            .as("%s at %dx%d, %s inputs", output, size[2], size[3], uniform ? "uniform" : "Gaussian")
                            .isGreaterThanOrEqualTo(MIN_COSINE);
                }
                assertThat(Fidelity.maxRelativeError(expected.get("areas"), actual.get("areas"))).isLessThan(1e-2);
            }
        }
        OnnxChecker.assertValid(converted);
    }

    @Test
    void theConvertStageChecksOnTheRunsDataWhenThereIsSome() throws Exception {
        Path input = dir.resolve("det.onnx");
        OnnxModel.of(DetectionCnn.build(2)).write(input);
        long[] shape = {6, 3, 48, 64};
        Path images = dir.resolve("images.npy");
        NpyWriter.writeNpy(images, HostArray.of(uniform(shape, 13), shape));
        Path work = Files.createDirectories(dir.resolve("stage"));

        StageOutcome outcome = Stages.forType("convert").run(new StageContext(Float16ConverterTest.stage("to: fp16"), input, input,
                List.of(images), null, work, 1, null));

        assertThat(outcome.gatePassed()).isTrue();
        JsonNode check = outcome.report().get("check");
        assertThat(check.get("data").asText()).isEqualTo("images.npy");
        assertThat(check.get("samples").asInt()).isEqualTo(6);
        assertThat(check.get("passed").asBoolean()).isTrue();
        for (String output : DetectionCnn.OUTPUTS) {
            assertThat(check.get("cosine").get(output).asDouble()).as(output).isGreaterThanOrEqualTo(MIN_COSINE);
        }
        assertThat(outcome.report().get("kept").toString()).contains("\"rule\":\"range\"").contains("\"rule\":\"overflow\"");
        Map<String, float[]> feeds = Map.of("image", uniform(shape, 14));
        Map<String, float[]> expected = run(input, feeds, shape);
        Map<String, float[]> actual = run(outcome.model(), feeds, shape);
        for (String output : DetectionCnn.OUTPUTS) {
            assertThat(Fidelity.cosine(expected.get(output), actual.get(output))).as(output).isGreaterThanOrEqualTo(MIN_COSINE);
        }
    }

    private static float[] gaussian(long[] shape, long seed) {
        return SmallModels.random(new Random(seed), (int) (shape[0] * shape[1] * shape[2] * shape[3]), 1f);
    }

    private static float[] uniform(long[] shape, long seed) {
        Random random = new Random(seed);
        float[] x = new float[(int) (shape[0] * shape[1] * shape[2] * shape[3])];
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextFloat();
        }
        return x;
    }

    /** Every output of the model, by name, for one image batch. */
    static Map<String, float[]> run(Path model, Map<String, float[]> feeds, long[] shape) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, float[]> outputs = new LinkedHashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toString(), options);
                 OnnxTensor image = OnnxTensor.createTensor(env, FloatBuffer.wrap(feeds.get("image")), shape);
                 OrtSession.Result result = session.run(Map.of("image", image))) {
                for (String name : List.copyOf(session.getOutputNames())) {
                    FloatBuffer buffer = ((OnnxTensor) result.get(name).orElseThrow()).getFloatBuffer();
                    float[] values = new float[buffer.remaining()];
                    buffer.get(values);
                    outputs.put(name, values);
                }
            }
        }
        return outputs;
    }
}
