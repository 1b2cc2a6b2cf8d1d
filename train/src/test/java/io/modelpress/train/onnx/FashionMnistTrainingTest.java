package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.modelpress.core.data.IdxFile;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.qdq.TestCnns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** CNNs trained by the trainer on real Fashion-MNIST images (Debian dataset-fashion-mnist). */
class FashionMnistTrainingTest {
    private static final Path DATA = Path.of("/usr/share/datasets/fashion-mnist");
    private static final int PIXELS = 784;

    @TempDir
    Path dir;

    /** The first {@code n} images (floats in [0, 1]) and labels of a split ("train" or "t10k"). */
    record Images(float[] pixels, int[] labels) {
        int count() {
            return labels.length;
        }

        float[] pixels(int from, int n) {
            return java.util.Arrays.copyOfRange(pixels, from * PIXELS, (from + n) * PIXELS);
        }
    }

    static Images load(String split, int n) {
        assumeTrue(Files.isReadable(DATA.resolve(split + "-images-idx3-ubyte.gz")),
                "Fashion-MNIST absent: apt-get install dataset-fashion-mnist");
        float[] pixels = new float[n * PIXELS];
        int[] labels = new int[n];
        try (IdxFile images = IdxFile.open(DATA.resolve(split + "-images-idx3-ubyte.gz"));
             IdxFile classes = IdxFile.open(DATA.resolve(split + "-labels-idx1-ubyte.gz"))) {
            byte[] image = new byte[PIXELS];
            byte[] label = new byte[1];
            for (int i = 0; i < n; i++) {
                images.next(image);
                classes.next(label);
                for (int p = 0; p < PIXELS; p++) {
                    pixels[i * PIXELS + p] = (image[p] & 0xff) / 255f;
                }
                labels[i] = label[0];
            }
        }
        return new Images(pixels, labels);
    }

    private static float[] logits(OnnxGraphModule module, float[] x, int n) {
        try (NDManager scope = NDManager.newBaseManager()) {
            return module.predict(scope, Map.of("input", scope.create(x, new Shape(n, 1, 28, 28))), List.of("logits"))
                    .get("logits").toFloatArray();
        }
    }

    private static double accuracy(float[] logits, int[] labels) {
        int correct = 0;
        for (int i = 0; i < labels.length; i++) {
            int best = 0;
            for (int c = 1; c < 10; c++) {
                if (logits[i * 10 + c] > logits[i * 10 + best]) {
                    best = c;
                }
            }
            correct += best == labels[i] ? 1 : 0;
        }
        return (double) correct / labels.length;
    }

    /** One pass over {@code train} in batches; returns the mean loss. */
    private static double epoch(OnnxTrainer trainer, Images train, int batch) {
        double sum = 0;
        int steps = 0;
        for (int from = 0; from + batch <= train.count(); from += batch) {
            try (TrainingStep step = trainer.newStep()) {
                NDArray in = step.manager().create(train.pixels(from, batch), new Shape(batch, 1, 28, 28));
                NDArray logits = step.forward(Map.of("input", in), List.of("logits")).get("logits");
                int[] y = java.util.Arrays.copyOfRange(train.labels(), from, from + batch);
                sum += step.backward(Losses.crossEntropy(logits, step.manager().create(y)));
            }
            trainer.optimizerStep();
            steps++;
        }
        return sum / steps;
    }

    private void assertWrittenBackMatches(OnnxTrainer trainer, OnnxModel model, Images test) throws Exception {
        trainer.writeBack(model);
        Path file = dir.resolve("trained.onnx");
        model.write(file);
        int n = 64;
        float[] x = test.pixels(0, n);
        OrtReference.Values ort = OrtReference.run(Files.readAllBytes(file),
                Map.of("input", Tensors.ofFloats("input", new long[] {n, 1, 28, 28}, x)), false).get("logits");
        float[] mine = logits(trainer.module(), x, n);
        double[] trainerValues = new double[mine.length];
        for (int i = 0; i < mine.length; i++) {
            trainerValues[i] = mine[i];
        }
        OrtReference.assertClose("written-back CNN", ort, new OrtReference.Values(ort.shape(), trainerValues), 1e-4, 1e-4);
    }

    @Test
    void cnnFromScratchLearnsFashionMnist() throws Exception {
        Images train = load("train", 640);
        Images test = load("t10k", 256);
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 7));
        OnnxTrainer.Options options = OnnxTrainer.Options.defaults()
                .withSchedule(LearningRateSchedule.warmupCosine(3e-3, 5, 60, 1e-4));
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options)) {
            double before = accuracy(logits(trainer.module(), test.pixels(0, 256), 256), test.labels());
            List<Double> losses = new ArrayList<>();
            for (int e = 0; e < 3; e++) {
                losses.add(epoch(trainer, train, 32));
            }
            double after = accuracy(logits(trainer.module(), test.pixels(0, 256), 256), test.labels());
            System.out.printf("Fashion-MNIST CNN from scratch, 640 images x 3 epochs: loss per epoch %s, test accuracy %.1f%% -> %.1f%%%n",
                    losses, 100 * before, 100 * after);
            assertThat(losses.get(2)).isLessThan(0.7 * losses.get(0));
            assertThat(after).isGreaterThan(0.6).isGreaterThan(before + 0.3);
            assertWrittenBackMatches(trainer, model, test);
        }
    }

    @Test
    void trainedTeacherRunsAsInOnnxRuntimeAndFineTunes() throws Exception {
        Path teacher = Path.of(System.getProperty("modelpress.models.dir", "target/models")).resolve("fashion-mnist-cnn-v2.onnx");
        assumeTrue(Files.isRegularFile(teacher), "the Fashion-MNIST teacher is made by examples' FashionMnistTeacher: " + teacher);
        Images train = load("train", 256);
        Images test = load("t10k", 256);
        OnnxModel model = OnnxModel.read(teacher);
        OnnxTrainer.Options options = OnnxTrainer.Options.defaults().withSchedule(LearningRateSchedule.constant(1e-4));
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options)) {
            int n = 64;
            OrtReference.Values ort = OrtReference.run(Files.readAllBytes(teacher),
                    Map.of("input", Tensors.ofFloats("input", new long[] {n, 1, 28, 28}, test.pixels(0, n))), false).get("logits");
            float[] mine = logits(trainer.module(), test.pixels(0, n), n);
            double[] values = new double[mine.length];
            for (int i = 0; i < mine.length; i++) {
                values[i] = mine[i];
            }
            OrtReference.assertClose("teacher logits", ort, new OrtReference.Values(ort.shape(), values), 1e-4, 1e-4);

            double accuracyBefore = accuracy(logits(trainer.module(), test.pixels(0, 256), 256), test.labels());
            double first = epoch(trainer, train, 32);
            double third = 0;
            for (int e = 0; e < 2; e++) {
                third = epoch(trainer, train, 32);
            }
            double accuracyAfter = accuracy(logits(trainer.module(), test.pixels(0, 256), 256), test.labels());
            System.out.printf("teacher fine-tuned on 256 images: loss %.4f -> %.4f, test accuracy %.1f%% -> %.1f%%%n", first, third,
                    100 * accuracyBefore, 100 * accuracyAfter);
            assertThat(third).isLessThan(first);
            assertThat(accuracyAfter).isGreaterThan(accuracyBefore - 0.05);
            assertWrittenBackMatches(trainer, model, test);
        }
    }
}
