package io.modelpress.core.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.IdxFile;
import io.modelpress.core.data.NpyWriter;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The evaluator on small real classifiers, with every metric recomputed independently in the test. */
class EvaluatorTest {
    static final int FEATURES = 4;
    static final int CLASSES = 3;
    static final int SAMPLES = 50;

    @TempDir
    Path dir;

    final Random random = new Random(7);
    final float[] weights = randomFloats(FEATURES * CLASSES, 1);
    final float[] bias = randomFloats(CLASSES, 0.1f);
    final float[] perturbedWeights = perturb(weights, 0.3f);
    final float[] features = randomFloats(SAMPLES * FEATURES, 1);

    float[] randomFloats(int n, float scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) random.nextGaussian() * scale;
        }
        return out;
    }

    float[] perturb(float[] values, float scale) {
        float[] out = values.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += (float) random.nextGaussian() * scale;
        }
        return out;
    }

    static double[] logits(float[] w, float[] b, float[] x, int sample) {
        double[] out = new double[b.length];
        for (int c = 0; c < b.length; c++) {
            double sum = 0;
            for (int f = 0; f < FEATURES; f++) {
                sum += (double) x[sample * FEATURES + f] * w[f * b.length + c];
            }
            out[c] = (float) sum + b[c];
        }
        return out;
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static double[] softmax(double[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            max = Math.max(max, x);
        }
        double sum = 0;
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.exp(v[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < v.length; i++) {
            out[i] /= sum;
        }
        return out;
    }

    /** Labels: the reference's prediction, with every 7th sample moved to the next class. */
    long[] labels() {
        long[] labels = new long[SAMPLES];
        for (int s = 0; s < SAMPLES; s++) {
            int predicted = argmax(logits(weights, bias, features, s));
            labels[s] = s % 7 == 0 ? (predicted + 1) % CLASSES : predicted;
        }
        return labels;
    }

    Path data(boolean withLabels) {
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("x", HostArray.of(features, SAMPLES, FEATURES));
        if (withLabels) {
            arrays.put("labels", HostArray.of(labels(), SAMPLES));
        }
        Path file = dir.resolve(withLabels ? "labelled.npz" : "unlabelled.npz");
        NpyWriter.writeNpz(file, arrays, true);
        return file;
    }

    @Test
    void accuracyAgreementCosineMseAndKlMatchAnIndependentComputation() throws Exception {
        Path reference = TestModels.linear(dir.resolve("ref.onnx"), "x", new long[] {-1, FEATURES}, "logits", weights, bias, false, false);
        Path model = TestModels.linear(dir.resolve("model.onnx"), "x", new long[] {-1, FEATURES}, "logits", perturbedWeights, bias, false, false);
        List<Long> progress = new ArrayList<>();
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, data(true)).withReference(reference)
                .withBatchSize(8).withLatencyBudget(Duration.ofMillis(300)).withProgress(progress::add));

        long[] labels = labels();
        int correct = 0;
        int referenceCorrect = 0;
        int agree = 0;
        double cosineSum = 0;
        double cosineMin = 1;
        double mseSum = 0;
        double mseMax = 0;
        double klSum = 0;
        double klMax = 0;
        for (int s = 0; s < SAMPLES; s++) {
            double[] m = logits(perturbedWeights, bias, features, s);
            double[] r = logits(weights, bias, features, s);
            correct += argmax(m) == labels[s] ? 1 : 0;
            referenceCorrect += argmax(r) == labels[s] ? 1 : 0;
            agree += argmax(m) == argmax(r) ? 1 : 0;
            double dot = 0;
            double nm = 0;
            double nr = 0;
            double se = 0;
            for (int c = 0; c < CLASSES; c++) {
                dot += m[c] * r[c];
                nm += m[c] * m[c];
                nr += r[c] * r[c];
                se += (m[c] - r[c]) * (m[c] - r[c]);
            }
            double cosine = dot / Math.sqrt(nm * nr);
            cosineSum += cosine;
            cosineMin = Math.min(cosineMin, cosine);
            mseSum += se / CLASSES;
            mseMax = Math.max(mseMax, se / CLASSES);
            double[] p = softmax(r);
            double[] q = softmax(m);
            double kl = 0;
            for (int c = 0; c < CLASSES; c++) {
                kl += p[c] * Math.log(p[c] / q[c]);
            }
            klSum += kl;
            klMax = Math.max(klMax, kl);
        }
        assertThat(report.samples()).isEqualTo(SAMPLES);
        assertThat(report.accuracy()).isEqualTo((double) correct / SAMPLES);
        assertThat(report.referenceAccuracy()).isEqualTo((double) referenceCorrect / SAMPLES).isLessThan(1.0);
        assertThat(report.agreement()).isEqualTo((double) agree / SAMPLES).isLessThan(1.0);
        EvaluationReport.OutputMetrics logits = report.outputs().get("logits");
        assertThat(logits.cosine().mean()).isCloseTo(cosineSum / SAMPLES, within(1e-5));
        assertThat(logits.cosine().worst()).isCloseTo(cosineMin, within(1e-5));
        assertThat(logits.mse().mean()).isCloseTo(mseSum / SAMPLES, within(1e-5));
        assertThat(logits.mse().worst()).isCloseTo(mseMax, within(1e-5));
        assertThat(logits.kl().mean()).isCloseTo(klSum / SAMPLES, within(1e-5)).isPositive();
        assertThat(logits.kl().worst()).isCloseTo(klMax, within(1e-5));
        assertThat(logits.tokenCosine()).isNull();
        assertThat(progress).containsExactly(8L, 16L, 24L, 32L, 40L, 48L, 50L);

        ObjectNode json = report.toJson();
        assertThat(json.get("accuracy_output").asText()).isEqualTo("logits");
        assertThat(json.get("outputs").get("logits").get("kl").get("max").asDouble()).isCloseTo(klMax, within(1e-5));
        assertThat(json.get("outputs").get("logits").get("mse").has("max")).isTrue();
        assertThat(json.get("outputs").get("logits").get("cosine").has("min")).isTrue();
        assertThat(json.get("outputs").get("logits").has("reference_output")).isFalse();
        assertThat(json.get("latency_ms").get("batch_N").get("batch").asInt()).isEqualTo(8);
        assertThat(json.get("file_bytes").asLong()).isEqualTo(Files.size(model));
        assertThat(report.toText()).contains("accuracy").contains("agreement").contains("kl").contains("batch 8");
    }

    @Test
    void outputsAndInputsPairByPositionWhenNamesDiffer() throws Exception {
        Path reference = TestModels.linear(dir.resolve("ref.onnx"), "input", new long[] {-1, FEATURES}, "scores_out", weights, bias, false, false);
        Path model = TestModels.linear(dir.resolve("model.onnx"), "x", new long[] {-1, FEATURES}, "logits", weights, bias, true, false);
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, data(false)).withReference(reference).withLatencyBudget(Duration.ZERO));
        EvaluationReport.OutputMetrics logits = report.outputs().get("logits");
        assertThat(logits.referenceOutput()).isEqualTo("scores_out");
        assertThat(logits.cosine().worst()).as("float16 output of the same weights").isGreaterThan(0.9999);
        assertThat(report.agreement()).isGreaterThan(0.9);
        assertThat(report.accuracy()).isNull();
        ObjectNode json = report.toJson();
        assertThat(json.get("outputs").get("logits").get("reference_output").asText()).isEqualTo("scores_out");
        assertThat(json.has("accuracy")).isFalse();
        assertThat(json.has("latency_ms")).isFalse();
        assertThat(json.has("throughput_per_s")).isFalse();
    }

    @Test
    void outputsThatMatchNeitherByNameNorByCountAreAMismatch() throws Exception {
        Path reference = TestModels.linear(dir.resolve("ref.onnx"), "x", new long[] {-1, FEATURES}, "a", weights, bias, false, false, true);
        Path model = TestModels.linear(dir.resolve("model.onnx"), "x", new long[] {-1, FEATURES}, "b", weights, bias, false, false);
        assertThatThrownBy(() -> Evaluator.run(EvaluationRequest.of(model, data(false)).withReference(reference).withLatencyBudget(Duration.ZERO)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
                    assertThat(e.getMessage()).contains("a, scores").contains("(b)");
                });
        // a model with the reference's outputs plus the same names works: both outputs are compared
        Path twoOutputs = TestModels.linear(dir.resolve("two.onnx"), "x", new long[] {-1, FEATURES}, "a", perturbedWeights, bias, false, false, true);
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(twoOutputs, data(false)).withReference(reference).withLatencyBudget(Duration.ZERO));
        assertThat(report.outputs()).containsOnlyKeys("a", "scores");
    }

    @Test
    void withoutLabelsOrReferenceOnlyLatencyAndSizeAreReportedIncludingExternalData() throws Exception {
        Path model = TestModels.linear(dir.resolve("ext/model.onnx"), "x", new long[] {-1, FEATURES}, "logits",
                randomFloats(FEATURES * 300, 1), randomFloats(300, 1), false, true);
        long files;
        try (Stream<Path> list = Files.list(model.getParent())) {
            List<Path> all = list.toList();
            assertThat(all).as("weights went to an external data file").hasSize(2);
            files = 0;
            for (Path p : all) {
                files += Files.size(p);
            }
        }
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, data(false)).withBatchSize(16).withLatencyBudget(Duration.ofMillis(300)));
        ObjectNode json = report.toJson();
        assertThat(json.get("file_bytes").asLong()).isEqualTo(files).isGreaterThan(Files.size(model));
        assertThat(json.get("compressed_bytes").asLong()).isPositive();
        for (String absent : List.of("reference", "accuracy", "agreement", "outputs", "reference_latency_ms", "reference_file_bytes", "notes")) {
            assertThat(json.has(absent)).as(absent).isFalse();
        }
        JsonNode latency = json.get("latency_ms");
        assertThat(latency.get("batch_1").get("p50").asDouble()).isPositive();
        assertThat(latency.get("batch_N").get("batch").asInt()).isEqualTo(16);
        assertThat(json.get("throughput_per_s").asDouble()).isPositive();
    }

    @Test
    void aFixedBatchDimensionDecidesTheBatchSize() throws Exception {
        Path model = TestModels.linear(dir.resolve("fixed.onnx"), "x", new long[] {4, FEATURES}, "logits", weights, bias, false, false);
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, data(true)).withBatchSize(32).withLatencyBudget(Duration.ofMillis(300)));
        assertThat(report.samples()).isEqualTo(48);
        assertThat(report.notes()).anySatisfy(n -> assertThat(n).contains("replaced by 4"))
                .anySatisfy(n -> assertThat(n).contains("last 2 samples"));
        assertThat(report.timings().batch1()).isNull();
        assertThat(report.timings().batchN().batch()).isEqualTo(4);
        assertThat(report.toJson().get("latency_ms").has("batch_1")).isFalse();
    }

    @Test
    void badAccuracyOutputsAndLabelsAreReported() throws Exception {
        Path model = TestModels.linear(dir.resolve("m.onnx"), "x", new long[] {-1, FEATURES}, "logits", weights, bias, false, false);
        assertThatThrownBy(() -> Evaluator.run(EvaluationRequest.of(model, data(true)).withAccuracyOutput("probabilities").withLatencyBudget(Duration.ZERO)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
                    assertThat(e.getMessage()).contains("probabilities").contains("logits");
                });

        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("x", HostArray.of(features, SAMPLES, FEATURES));
        long[] labels = new long[SAMPLES];
        labels[13] = 7;
        arrays.put("labels", HostArray.of(labels, SAMPLES));
        Path file = dir.resolve("bad-labels.npz");
        NpyWriter.writeNpz(file, arrays, false);
        assertThatThrownBy(() -> Evaluator.run(EvaluationRequest.of(model, file).withLatencyBudget(Duration.ZERO)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
                    assertThat(e.getMessage()).contains("sample 13").contains("7").contains("3 classes");
                });

        // a single-column output holds no classes: with labels, the user is told why there is no accuracy
        Path regressor = TestModels.linear(dir.resolve("r.onnx"), "x", new long[] {-1, FEATURES}, "value",
                new float[] {1, 1, 1, 1}, new float[] {0}, false, false);
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(regressor, data(true)).withLatencyBudget(Duration.ZERO));
        assertThat(report.accuracy()).isNull();
        assertThat(report.notes()).singleElement().satisfies(n -> assertThat(n).contains("no accuracy").contains("'value'"));
    }

    /**
     * Fashion-MNIST (Debian's dataset-fashion-mnist) through a real nearest-centroid classifier built from the training
     * images: the evaluator's accuracy on the test split equals the test's own count.
     */
    @Test
    void fashionMnistAccuracyOfANearestCentroidClassifier() throws Exception {
        Path folder = Path.of("/usr/share/datasets/fashion-mnist");
        Assumptions.assumeTrue(Files.isRegularFile(folder.resolve("train-images-idx3-ubyte.gz")), "Fashion-MNIST is not installed");
        int pixels = 784;
        double[][] sums = new double[10][pixels];
        int[] counts = new int[10];
        byte[] image = new byte[pixels];
        byte[] label = new byte[1];
        try (IdxFile images = IdxFile.open(folder.resolve("train-images-idx3-ubyte.gz"));
             IdxFile labels = IdxFile.open(folder.resolve("train-labels-idx1-ubyte.gz"))) {
            for (int n = 0; n < 6000; n++) {
                images.next(image);
                labels.next(label);
                counts[label[0]]++;
                for (int p = 0; p < pixels; p++) {
                    sums[label[0]][p] += (image[p] & 0xff) / 255.0;
                }
            }
        }
        // argmin |x - c|^2 = argmax (x.c - |c|^2 / 2): a linear layer
        float[] w = new float[pixels * 10];
        float[] b = new float[10];
        for (int c = 0; c < 10; c++) {
            double norm = 0;
            for (int p = 0; p < pixels; p++) {
                double centroid = sums[c][p] / counts[c];
                w[p * 10 + c] = (float) centroid;
                norm += centroid * centroid;
            }
            b[c] = (float) (-norm / 2);
        }
        Path model = TestModels.linear(dir.resolve("centroids.onnx"), "image", new long[] {-1, 1, 28, 28}, "logits", w, b, false, false);
        int limit = 2000;
        int correct = 0;
        try (IdxFile images = IdxFile.open(folder.resolve("t10k-images-idx3-ubyte.gz"));
             IdxFile labels = IdxFile.open(folder.resolve("t10k-labels-idx1-ubyte.gz"))) {
            for (int n = 0; n < limit; n++) {
                images.next(image);
                labels.next(label);
                int best = 0;
                double bestScore = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < 10; c++) {
                    double score = b[c];
                    for (int p = 0; p < pixels; p++) {
                        score += (image[p] & 0xff) / 255.0 * w[p * 10 + c];
                    }
                    if (score > bestScore) {
                        bestScore = score;
                        best = c;
                    }
                }
                correct += best == label[0] ? 1 : 0;
            }
        }
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(model, folder)
                .withDataOptions(DataOptions.DEFAULT.withLimit(limit)).withBatchSize(64).withLatencyBudget(Duration.ZERO));
        assertThat(report.samples()).isEqualTo(limit);
        assertThat(report.accuracy()).isCloseTo((double) correct / limit, within(2.0 / limit)).isBetween(0.6, 0.8);
    }
}
