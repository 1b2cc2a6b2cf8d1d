package io.modelpress.train.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.eval.Similarity;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.prune.LayerOptions;
import io.modelpress.core.prune.LayerPruner;
import io.modelpress.core.prune.sparse.SparsityOptions;
import io.modelpress.core.prune.sparse.SparsityPruner;
import io.modelpress.core.prune.sparse.SparsityRecord;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.recipe.RecipeDocs;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.train.onnx.LearningRateSchedule;
import io.modelpress.train.onnx.Losses;
import io.modelpress.train.onnx.OnnxGraphModule;
import io.modelpress.train.onnx.OnnxTrainer;
import io.modelpress.train.onnx.TrainingStep;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The {@code distill} stage on small real models, judged in ONNX Runtime. */
class DistillStageTest {
    private static final int PIXELS = 28 * 28;

    @TempDir
    Path dir;

    /** Labelled images: ten smooth class patterns with per-sample noise and brightness. */
    record Images(float[] pixels, long[] labels) {
        int count() {
            return labels.length;
        }

        static Images make(int n, long seed) {
            Random patterns = new Random(1234);
            float[][] classes = new float[10][PIXELS];
            for (float[] pattern : classes) {
                for (int blob = 0; blob < 4; blob++) {
                    double cx = 4 + patterns.nextDouble() * 20;
                    double cy = 4 + patterns.nextDouble() * 20;
                    double radius = 2 + patterns.nextDouble() * 5;
                    for (int y = 0; y < 28; y++) {
                        for (int x = 0; x < 28; x++) {
                            pattern[y * 28 + x] += (float) Math.exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * radius * radius));
                        }
                    }
                }
            }
            Random random = new Random(seed);
            float[] pixels = new float[n * PIXELS];
            long[] labels = new long[n];
            for (int i = 0; i < n; i++) {
                int c = random.nextInt(10);
                labels[i] = c;
                float brightness = 0.6f + 0.8f * random.nextFloat();
                for (int p = 0; p < PIXELS; p++) {
                    pixels[i * PIXELS + p] = brightness * classes[c][p] + 0.35f * (float) random.nextGaussian();
                }
            }
            return new Images(pixels, labels);
        }

        Path writeNpz(Path file) {
            NpyWriter.writeNpz(file, Map.of("input", HostArray.of(pixels, count(), 1, 28, 28), "labels", HostArray.of(labels, count())), false);
            return file;
        }
    }

    /** The CNN trained briefly on the images with plain cross-entropy: a teacher that knows the classes. */
    private static OnnxModel trainedTeacher(Images images) {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 7));
        try (OnnxTrainer trainer = OnnxTrainer.create(model, OnnxTrainer.Options.defaults()
                .withSchedule(LearningRateSchedule.warmupCosine(3e-3, 5, 40, 1e-4)))) {
            for (int step = 0; step < 40; step++) {
                int from = (step * 32) % (images.count() - 32);
                try (TrainingStep s = trainer.newStep()) {
                    NDArray x = s.manager().create(java.util.Arrays.copyOfRange(images.pixels(), from * PIXELS, (from + 32) * PIXELS),
                            new Shape(32, 1, 28, 28));
                    NDArray logits = s.forward(Map.of("input", x), List.of("logits")).get("logits");
                    s.backward(Losses.crossEntropy(logits, s.manager().create(java.util.Arrays.copyOfRange(images.labels(), from, from + 32))));
                }
                trainer.optimizerStep();
            }
            trainer.writeBack(model);
        }
        return model;
    }

    private static Map<String, HostArray> run(Path model, Map<String, HostArray> feeds) {
        try (ModelSession session = ModelSession.open(model, SessionSettings.DEFAULT.withThreads(1))) {
            return session.run(feeds);
        }
    }

    /** Fraction of samples on which two models' top-1 classes agree, in ONNX Runtime. */
    private static double agreement(Path model, Path teacher, Images images) {
        Map<String, HostArray> feeds = Map.of("input", HostArray.of(images.pixels(), images.count(), 1, 28, 28));
        long[] ours = DistillLoss.argmax(run(model, feeds).get("logits").toFloats(), images.count());
        long[] theirs = DistillLoss.argmax(run(teacher, feeds).get("logits").toFloats(), images.count());
        int same = 0;
        for (int i = 0; i < ours.length; i++) {
            same += ours[i] == theirs[i] ? 1 : 0;
        }
        return (double) same / ours.length;
    }

    private static StageContext context(String stageYaml, Path student, Path teacher, List<Path> data, Path work, List<String> progress) {
        var recipe = RecipeParser.parse("stages:\n  - distill: " + stageYaml + "\n", "test.yaml", Stages.registry());
        return new StageContext(recipe.stages().get(0), student, teacher, data, null, work, 1,
                (fraction, message) -> progress.add(message));
    }

    /** Positions of the exact zeros of each tensor the sparsity record lists. */
    private static Map<String, List<Integer>> prunedPositions(OnnxModel model) {
        Map<String, List<Integer>> zeros = new java.util.TreeMap<>();
        for (SparsityRecord.Entry entry : SparsityRecord.read(model)) {
            float[] values = model.floats(Weights.find(model, entry.name()).orElseThrow());
            List<Integer> positions = new ArrayList<>();
            for (int i = 0; i < values.length; i++) {
                if (values[i] == 0f) {
                    positions.add(i);
                }
            }
            zeros.put(entry.name(), positions);
        }
        return zeros;
    }

    @Test
    void distillingAPrunedCnnWinsBackAgreementKeepsItsZerosAndRunsInOnnxRuntimeAsInTheTrainer() throws Exception {
        Images train = Images.make(1200, 1);
        Images heldOut = Images.make(400, 2);
        Path teacher = dir.resolve("teacher.onnx");
        trainedTeacher(train).write(teacher);

        OnnxModel damaged = OnnxModel.read(teacher);
        SparsityPruner.prune(damaged, SparsityOptions.magnitude(0.85));
        Path student = dir.resolve("student.onnx");
        damaged.write(student);
        double before = agreement(student, teacher, heldOut);

        Path work = Files.createDirectories(dir.resolve("work"));
        List<String> progress = Collections.synchronizedList(new ArrayList<>());
        StageOutcome outcome = new DistillStageProvider().stage().run(context("{ epochs: 3, learning_rate: 0.002 }", student, teacher,
                List.of(train.writeNpz(dir.resolve("train-calib.npz"))), work, progress));

        double after = agreement(outcome.model(), teacher, heldOut);
        ObjectNode report = outcome.report();
        System.out.printf("distill: pruned CNN (85%% of weights zeroed) agreement with the teacher on 400 held-out samples %.1f%% -> %.1f%%;"
                + " report %s%n", 100 * before, 100 * after, report);
        assertThat(outcome.gatePassed()).isTrue();
        assertThat(outcome.model()).isEqualTo(work.resolve("model.onnx")).isRegularFile();
        assertThat(after).isGreaterThan(before + 0.10);
        assertThat(report.path("outputs").path("logits").path("loss").asText()).isEqualTo("kd");
        assertThat(report.path("outputs").path("logits").path("hard_labels").asBoolean()).isTrue();
        assertThat(report.path("validation").path("best").path("loss").asDouble())
                .isLessThan(report.path("validation").path("before").path("loss").asDouble());
        assertThat(report.path("validation").path("best").path("agreement").asDouble())
                .isGreaterThan(report.path("validation").path("before").path("agreement").asDouble());
        assertThat(report.path("train_samples").asInt() + report.path("validation_samples").asInt()).isEqualTo(1200);
        assertThat(report.path("steps").asLong()).isEqualTo(3L * ((report.path("train_samples").asInt() + 31) / 32));
        assertThat(report.path("masked_tensors").asInt()).isEqualTo(SparsityRecord.read(damaged).size()).isPositive();
        assertThat(report.path("ort_max_abs_difference").asDouble()).isLessThan(1e-3);
        assertThat(progress).anyMatch(m -> m.matches("step \\d+/\\d+, loss [0-9.]+, ETA \\d+s"));

        // pruned weights stay exactly zero, the record travels with the model, and the rest did train
        OnnxModel distilled = OnnxModel.read(outcome.model());
        assertThat(SparsityRecord.read(distilled)).isEqualTo(SparsityRecord.read(damaged));
        assertThat(prunedPositions(distilled)).isEqualTo(prunedPositions(damaged));
        assertThat(distilled.floats(Weights.find(distilled, "fc1.weight").orElseThrow()))
                .isNotEqualTo(damaged.floats(Weights.find(damaged, "fc1.weight").orElseThrow()));

        // the written model computes in ONNX Runtime what the trainer computes
        int n = 64;
        float[] x = java.util.Arrays.copyOf(heldOut.pixels(), n * PIXELS);
        float[] ort = run(outcome.model(), Map.of("input", HostArray.of(x, n, 1, 28, 28))).get("logits").toFloats();
        try (OnnxGraphModule module = OnnxGraphModule.load(distilled); NDManager scope = NDManager.newBaseManager()) {
            float[] djl = module.predict(scope, Map.of("input", scope.create(x, new Shape(n, 1, 28, 28))), List.of("logits"))
                    .get("logits").toFloatArray();
            assertThat(djl).hasSameSizeAs(ort);
            for (int i = 0; i < ort.length; i++) {
                assertThat((double) djl[i]).as("logit %d", i).isCloseTo(ort[i], org.assertj.core.data.Offset.offset(1e-4 + 1e-4 * Math.abs(ort[i])));
            }
        }
    }

    private static Map<String, Long> qdqNodes(OnnxModel model) {
        Map<String, Long> counts = new java.util.TreeMap<>();
        model.graph().getNodeList().stream().filter(n -> n.getOpType().equals("QuantizeLinear") || n.getOpType().equals("DequantizeLinear"))
                .forEach(n -> counts.merge(n.getOpType(), 1L, Long::sum));
        return counts;
    }

    /**
     * Quantization-aware fine-tuning: a static INT8 model whose activation ranges clip (percentile 90) is the student;
     * distilling it from its float teacher wins agreement back, and it stays the same static INT8 graph (same
     * QuantizeLinear/DequantizeLinear nodes, int8 weights at the same scales), checked in ONNX Runtime.
     */
    @Test
    void aStaticInt8StudentFineTunesThroughItsQuantizationAndStaysInt8() throws Exception {
        Images train = Images.make(1200, 1);
        Images heldOut = Images.make(400, 2);
        Path teacher = dir.resolve("teacher.onnx");
        trainedTeacher(train).write(teacher);
        Path data = train.writeNpz(dir.resolve("train-calib.npz"));
        var quantizeSpec = RecipeParser.parse("stages:\n  - quantize: { mode: static, calibration: percentile, percentile: 90 }\n",
                "q.yaml", Stages.registry()).stages().get(0);
        Path int8Dir = Files.createDirectories(dir.resolve("int8"));
        Path student = Stages.forType("quantize").run(new StageContext(quantizeSpec, teacher, teacher, List.of(data), null, int8Dir, 1,
                (fraction, message) -> { })).model();
        OnnxModel quantized = OnnxModel.read(student);
        double before = logitError(student, teacher, heldOut);

        Path work = Files.createDirectories(dir.resolve("work"));
        StageOutcome outcome = new DistillStageProvider().stage().run(context("{ epochs: 2, learning_rate: 0.0005 }", student, teacher,
                List.of(data), work, new ArrayList<>()));

        double after = logitError(outcome.model(), teacher, heldOut);
        System.out.printf("QAT: static int8 (percentile 90) mean squared logit error to the teacher on 400 held-out samples %.4f -> %.4f; report %s%n",
                before, after, outcome.report());
        OnnxModel tuned = OnnxModel.read(outcome.model());
        assertThat(qdqNodes(quantized)).containsKeys("QuantizeLinear", "DequantizeLinear");
        assertThat(qdqNodes(tuned)).isEqualTo(qdqNodes(quantized));
        TensorProto weight = Weights.find(tuned, "conv1.weight_quantized").orElseGet(() -> tuned.graph().getInitializerList().stream()
                .filter(t -> t.getDataType() == TensorProto.DataType.INT8_VALUE && t.getDimsCount() == 4).findFirst().orElseThrow());
        assertThat(weight.getDataType()).isEqualTo(TensorProto.DataType.INT8_VALUE);
        assertThat(outcome.report().path("trained_tensors").asInt()).isPositive();
        assertThat(outcome.report().path("validation").path("best").path("loss").asDouble())
                .isLessThan(outcome.report().path("validation").path("before").path("loss").asDouble());
        assertThat(outcome.report().path("ort_max_abs_difference").asDouble()).isLessThan(0.5);
        assertThat(after).isLessThan(0.8 * before);
    }

    /** Mean squared difference of two models' logits on the images, in ONNX Runtime. */
    private static double logitError(Path model, Path teacher, Images images) {
        Map<String, HostArray> feeds = Map.of("input", HostArray.of(images.pixels(), images.count(), 1, 28, 28));
        float[] ours = run(model, feeds).get("logits").toFloats();
        float[] theirs = run(teacher, feeds).get("logits").toFloats();
        double sum = 0;
        for (int i = 0; i < ours.length; i++) {
            sum += (ours[i] - theirs[i]) * (double) (ours[i] - theirs[i]);
        }
        return sum / ours.length;
    }

    /** An MLP applied per token, [batch, 6, 16] -> [batch, 6, 8]: token embeddings, distilled by cosine. */
    private static OnnxModel tokenMlp(long seed) {
        GraphProto g = SmallModels.mlp(16, 32, 8, false, seed).getGraph().toBuilder()
                .setInput(0, Nodes.tensorInfo("x", DataType.FLOAT, "batch", 6, 16))
                .setOutput(0, Nodes.tensorInfo("y", DataType.FLOAT, "batch", 6, 8)).build();
        return OnnxModel.of(SmallModels.model(g, 17));
    }

    private static double meanTokenCosine(Path model, Path teacher, float[] x, int n) {
        Map<String, HostArray> feeds = Map.of("x", HostArray.of(x, n, 6, 16));
        float[] ours = run(model, feeds).get("y").toFloats();
        float[] theirs = run(teacher, feeds).get("y").toFloats();
        double sum = 0;
        for (int v = 0; v < n * 6; v++) {
            sum += Similarity.cosine(java.util.Arrays.copyOfRange(ours, v * 8, v * 8 + 8), java.util.Arrays.copyOfRange(theirs, v * 8, v * 8 + 8));
        }
        return sum / (n * 6);
    }

    @Test
    void tokenEmbeddingsAreDistilledByCosineWithoutLabelsTogetherWithAHiddenState() throws Exception {
        Path teacher = dir.resolve("teacher.onnx");
        tokenMlp(3).write(teacher);
        OnnxModel noisy = tokenMlp(3);
        Random random = new Random(9);
        for (String name : List.of("w1", "w2")) {
            TensorProto w = Weights.find(noisy, name).orElseThrow();
            float[] values = noisy.floats(w);
            for (int i = 0; i < values.length; i++) {
                values[i] += 0.25f * (float) random.nextGaussian();
            }
            Weights.replace(noisy, name, Tensors.ofFloats(name, Tensors.dims(w), values));
        }
        Path student = dir.resolve("student.onnx");
        noisy.write(student);

        int n = 512;
        float[] x = SmallModels.random(new Random(5), n * 6 * 16, 1f);
        Path data = dir.resolve("tokens.npz");
        NpyWriter.writeNpz(data, Map.of("x", HostArray.of(x, n, 6, 16)), false);
        float[] heldOut = SmallModels.random(new Random(6), 128 * 6 * 16, 1f);
        double before = meanTokenCosine(student, teacher, heldOut, 128);

        Path work = Files.createDirectories(dir.resolve("work"));
        StageOutcome outcome = new DistillStageProvider().stage().run(context("{ epochs: 20, batch: 16, learning_rate: 0.003, hidden: [h2] }", student, teacher,
                List.of(data), work, new ArrayList<>()));
        double after = meanTokenCosine(outcome.model(), teacher, heldOut, 128);
        System.out.printf("distill: noisy token MLP, mean token cosine to the teacher on held-out inputs %.4f -> %.4f; report %s%n",
                before, after, outcome.report());
        assertThat(outcome.report().path("outputs").path("y").path("loss").asText()).isEqualTo("cosine");
        assertThat(outcome.report().path("hidden").path("h2").path("loss").asText()).isEqualTo("mse");
        assertThat(outcome.report().has("masked_tensors")).isTrue();
        assertThat(after).isGreaterThan(before + 0.05);
        assertThat(outcome.report().path("ort_max_abs_difference").asDouble()).isLessThan(1e-3);
    }

    /**
     * Text through the JSON Lines reader and the tokenizer: all-MiniLM-L6-v2 cut to one of its six layers and pruned
     * 2:4 on every MatMul, distilled a few steps on the teacher's token embeddings; the 2:4 pattern holds afterwards and the written model runs in ONNX Runtime
     * as in the trainer.
     */
    @Test
    void prunedMiniLmLearnsFromItsTeacherOnTextAndStaysTwoOfFour() throws Exception {
        Path teacher = ReferenceModels.minilm();
        OnnxModel pruned = OnnxModel.read(teacher);
        LayerPruner.prune(pruned, LayerOptions.keep(1));
        SparsityPruner.prune(pruned, SparsityOptions.nOfM(2, 4));
        Path student = dir.resolve("student.onnx");
        pruned.write(student);
        String[] subjects = {"The river", "A small dog", "Our new teacher", "The old bridge"};
        String[] predicates = {"crossed the valley before dawn", "was painted again last spring", "likes long walks in the rain",
                "waited quietly at the station"};
        StringBuilder lines = new StringBuilder();
        for (String subject : subjects) {
            for (String predicate : predicates) {
                lines.append("{\"text\": \"").append(subject).append(' ').append(predicate).append(".\"}\n");
            }
        }
        Path data = Files.writeString(dir.resolve("sentences.jsonl"), lines);

        Path work = Files.createDirectories(dir.resolve("work"));
        StageContext base = context("{ steps: 4, batch: 4, learning_rate: 0.0003, validation: 0.25, validate_every: 2 }", student,
                teacher, List.of(data), work, new ArrayList<>());
        StageContext withTokenizer = new StageContext(base.spec(), base.input(), base.original(), base.data(), ReferenceModels.minilmTokenizer(),
                base.workDir(), base.threads(), base.progress());
        StageOutcome outcome = new DistillStageProvider().stage().run(withTokenizer);
        ObjectNode report = outcome.report();
        System.out.println("distill: MiniLM 1 of 6 layers, 2:4, 4 steps on 12 sentences: " + report);
        assertThat(report.path("outputs").path("last_hidden_state").path("loss").asText()).isEqualTo("cosine");
        assertThat(report.path("batches_cut_to_longest").asBoolean()).isTrue();
        assertThat(report.path("validation").path("best").path("loss").asDouble())
                .isLessThan(report.path("validation").path("before").path("loss").asDouble());
        assertThat(report.path("masked_tensors").asInt()).isEqualTo(SparsityRecord.read(pruned).size()).isGreaterThanOrEqualTo(6);
        assertThat(report.path("ort_max_abs_difference").asDouble()).isLessThan(1e-3);
        OnnxModel distilled = OnnxModel.read(outcome.model());
        assertThat(prunedPositions(distilled)).isEqualTo(prunedPositions(pruned));
    }

    @Test
    void badUseIsAClearError() throws Exception {
        Path model = dir.resolve("mlp.onnx");
        tokenMlp(3).write(model);
        Path work = Files.createDirectories(dir.resolve("work"));
        assertThatThrownBy(() -> new DistillStageProvider().stage().run(context("{}", model, model, List.of(), work, new ArrayList<>())))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("01-distill").hasMessageContaining("needs data to distill on")
                .satisfies(e -> assertThat(((ModelPressException) e).code()).isEqualTo(ErrorCode.BAD_ARGUMENT));
        Path data = dir.resolve("tokens.npz");
        NpyWriter.writeNpz(data, Map.of("x", HostArray.of(new float[8 * 6 * 16], 8, 6, 16)), false);
        assertThatThrownBy(() -> new DistillStageProvider().stage().run(context("{ outputs: [logits] }", model, model, List.of(data), work,
                new ArrayList<>()))).hasMessageContaining("'logits' is not an output of the student (outputs: y)");
        assertThatThrownBy(() -> new DistillStageProvider().stage().run(context("{ hidden: [h2=nowhere] }", model, model, List.of(data), work,
                new ArrayList<>()))).hasMessageContaining("hidden value 'nowhere'").hasMessageContaining("is not computed by the teacher");
        assertThatThrownBy(() -> new DistillStageProvider().stage().run(context("{ hidden: [h2=y] }", model, model, List.of(data), work,
                new ArrayList<>()))).hasMessageContaining("distilled value 'h2'").hasMessageContaining("in the teacher");
        assertThatThrownBy(() -> RecipeParser.parse("stages:\n  - distill: { temprature: 2 }\n", "bad.yaml", Stages.registry()))
                .hasMessageContaining("stages[0].distill.temprature: unknown key");
        assertThatThrownBy(() -> RecipeParser.parse("stages:\n  - distill: { alpha: 1.5 }\n", "bad.yaml", Stages.registry()))
                .hasMessageContaining("stages[0].distill.alpha");
    }

    @Test
    void docsListTheStageKeys() throws Exception {
        Path docs = Path.of(System.getProperty("maven.multiModuleProjectDirectory", ".."), "docs", "recipes.md");
        if (!Files.exists(docs)) {
            docs = Path.of("..", "docs", "recipes.md");
        }
        String tables = RecipeDocs.tables();
        int start = tables.indexOf("### `distill`");
        assertThat(start).as("distill is found through META-INF/services").isNotNegative();
        int end = tables.indexOf("### ", start + 4);
        assertThat(Files.readString(docs)).as("docs/recipes.md is stale: regenerate the distill table with RecipeDocs.main")
                .contains(tables.substring(start, end));
    }
}
