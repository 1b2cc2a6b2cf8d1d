package io.modelpress.cli;

import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code modelpress compress} finds what the train module offers on its class path: the {@code distill} stage type and
 * the {@code taylor} pruning criterion.
 */
class TrainModuleCompressTest {
    @TempDir
    Path dir;

    @Test
    void aDistillRecipeRunsInProcessAndItsOutputRunsInOnnxRuntime() throws Exception {
        Path model = dir.resolve("cnn.onnx");
        OnnxModel.of(TestCnns.fashionLike(4, 8, 16, false, 7)).write(model);
        float[] pixels = labelledData(96);
        float[] firstEight = java.util.Arrays.copyOf(pixels, 8 * 28 * 28);
        Path data = dir.resolve("train.npz");
        Path recipe = Files.writeString(dir.resolve("distill.yaml"), """
                stages:
                  - distill: { steps: 4, batch: 16, validation: 0.25, learning_rate: 0.001 }
                  - eval: { metrics: [cosine] }
                """);
        Path out = dir.resolve("out");

        CliRunner r = CliRunner.run("compress", model.toString(), "--recipe", recipe.toString(), "--data", data.toString(),
                "--out", out.toString(), "--threads", "1");

        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        RunReport report = RunReports.read(out.resolve("report.json"));
        assertThat(report.run().state()).isEqualTo("SUCCEEDED");
        RunReport.Stage distill = report.stages().get(0);
        assertThat(distill.type()).isEqualTo("distill");
        assertThat(distill.status()).isEqualTo("SUCCEEDED");
        assertThat(distill.report().path("steps").asLong()).isEqualTo(4);
        assertThat(distill.report().path("train_samples").asInt()).isEqualTo(72);
        assertThat(distill.report().path("device").asText()).isEqualTo("cpu");
        assertThat(distill.report().path("ort_max_abs_difference").asDouble()).isLessThan(1e-3);
        assertThat(report.stages()).extracting(RunReport.Stage::type).containsExactly("distill", "eval");

        Path output = out.resolve("model.onnx");
        OnnxChecker.assertValid(output);
        try (ModelSession session = ModelSession.open(output, SessionSettings.DEFAULT.withThreads(1))) {
            HostArray logits = session.run(Map.of("input", HostArray.of(firstEight, 8, 1, 28, 28))).get("logits");
            assertThat(logits.shape()).containsExactly(8L, 10L);
            for (float v : logits.toFloats()) {
                assertThat(Float.isFinite(v)).isTrue();
            }
        }
    }

    @Test
    void aPruneRecipeRankingByTaylorRunsInProcess() throws Exception {
        Path model = dir.resolve("cnn.onnx");
        OnnxModel.of(TestCnns.fashionLike(8, 16, 16, false, 7)).write(model);
        labelledData(64);
        Path recipe = Files.writeString(dir.resolve("taylor.yaml"), """
                stages:
                  - prune: { method: structured, ratio: 0.5, criterion: taylor, samples: 32, round_to: 8 }
                """);
        Path out = dir.resolve("out");

        CliRunner r = CliRunner.run("compress", model.toString(), "--recipe", recipe.toString(), "--data", dir.resolve("train.npz").toString(),
                "--out", out.toString(), "--threads", "1");

        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        RunReport.Stage prune = RunReports.read(out.resolve("report.json")).stages().get(0);
        assertThat(prune.status()).isEqualTo("SUCCEEDED");
        assertThat(prune.report().path("notes").path("criterion").asText()).as(prune.report().toString()).isEqualTo("taylor");
        assertThat(prune.report().path("after").path("parameters").asLong()).isLessThan(prune.report().path("before").path("parameters").asLong());
        OnnxChecker.assertValid(out.resolve("model.onnx"));
    }

    @Test
    void aUserSuppliedStudentIsDistilledFromTheModel() throws Exception {
        Path teacher = dir.resolve("teacher.onnx");
        OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 7)).write(teacher);
        Path student = dir.resolve("student.onnx");
        OnnxModel.of(TestCnns.fashionLike(4, 8, 16, false, 11)).write(student);
        labelledData(64);
        Path recipe = Files.writeString(dir.resolve("distill.yaml"), """
                stages:
                  - distill: { steps: 3, batch: 16, validation: 0.25 }
                  - eval: { metrics: [cosine] }
                """);
        Path out = dir.resolve("out");

        CliRunner r = CliRunner.run("compress", teacher.toString(), "--student", student.toString(), "--recipe", recipe.toString(),
                "--data", dir.resolve("train.npz").toString(), "--out", out.toString(), "--threads", "1");

        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        RunReport report = RunReports.read(out.resolve("report.json"));
        assertThat(report.stages().get(0).report().path("steps").asLong()).isEqualTo(3);
        // the output is the student's architecture, trained, and evaluated against the teacher
        OnnxModel result = OnnxModel.read(out.resolve("model.onnx"));
        assertThat(io.modelpress.core.onnx.Tensors.dims(result.constant("conv1.weight").orElseThrow())[0]).isEqualTo(4);
        assertThat(report.stages().get(1).type()).isEqualTo("eval");
        assertThat(report.input().location()).endsWith("teacher.onnx");

        Path stranger = dir.resolve("stranger.onnx");
        OnnxModel.of(io.modelpress.core.testing.SmallModels.mlp(8, 16, 4, false, 3)).write(stranger);
        CliRunner refused = CliRunner.run("compress", teacher.toString(), "--student", stranger.toString(), "--recipe", recipe.toString(),
                "--data", dir.resolve("train.npz").toString(), "--out", dir.resolve("out2").toString());
        assertThat(refused.exitCode()).isNotZero();
        assertThat(refused.err()).contains("student").contains("inputs").contains("input").doesNotContain("Exception");
        assertThat(dir.resolve("out2").resolve("model.onnx")).doesNotExist();
    }

    /** Writes {@code n} noisy 28x28 images with labels to train.npz; returns the pixels. */
    private float[] labelledData(int n) throws java.io.IOException {
        Random random = new Random(3);
        float[] pixels = new float[n * 28 * 28];
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) {
            labels[i] = random.nextInt(10);
            for (int p = 0; p < 28 * 28; p++) {
                pixels[i * 28 * 28 + p] = (float) random.nextGaussian() + 0.01f * labels[i] * (p % 28);
            }
        }
        NpyWriter.writeNpz(dir.resolve("train.npz"), Map.of("input", HostArray.of(pixels, n, 1, 28, 28), "labels", HostArray.of(labels, n)), false);
        return pixels;
    }
}
