package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.prune.sparse.SparsityOptions;
import io.modelpress.core.prune.sparse.SparsityPruner;
import io.modelpress.core.prune.sparse.SparsityRecord;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class OnnxTrainerTest {
    private static final int FEATURES = 16;
    private static final int CLASSES = 4;

    @TempDir
    Path dir;

    private static OnnxTrainer.Options options(double rate) {
        return OnnxTrainer.Options.defaults().withSchedule(LearningRateSchedule.constant(rate));
    }

    /** Trains on rows of {@code x} in order, {@code batch} at a time; returns the loss of each step. */
    private static List<Float> train(OnnxTrainer trainer, float[] x, int[] labels, int features, int batch, int steps,
                                     String input, String output) {
        int n = labels.length;
        List<Float> losses = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
            int from = (s * batch) % n;
            float[] rows = java.util.Arrays.copyOfRange(x, from * features, (from + batch) * features);
            int[] y = java.util.Arrays.copyOfRange(labels, from, from + batch);
            try (TrainingStep step = trainer.newStep()) {
                NDArray in = step.manager().create(rows, new Shape(batch, features));
                NDArray logits = step.forward(Map.of(input, in), List.of(output)).get(output);
                losses.add(step.backward(Losses.crossEntropy(logits, step.manager().create(y))));
            }
            trainer.optimizerStep();
        }
        return losses;
    }

    private static double mean(List<Float> values) {
        return values.stream().mapToDouble(Float::doubleValue).average().orElseThrow();
    }

    private static OrtReference.Values predict(OnnxGraphModule module, String input, float[] x, long[] shape, String output) {
        try (NDManager scope = NDManager.newBaseManager()) {
            NDArray in = scope.create(x, new Shape(shape));
            return OrtReference.values(module.predict(scope, Map.of(input, in), List.of(output)).get(output));
        }
    }

    @ParameterizedTest(name = "weights in Constant nodes: {0}")
    @ValueSource(booleans = {false, true})
    void mlpLearnsAndItsWrittenBackModelMatchesTheTrainerInOnnxRuntime(boolean constantNodes) throws Exception {
        ModelProto original = SmallModels.mlp(FEATURES, 32, CLASSES, constantNodes, 3);
        OnnxModel model = OnnxModel.of(original);
        float[] x = TrainingModels.inputs(new Random(1), 512, FEATURES);
        int[] labels = TrainingModels.teacherLabels(x, FEATURES, CLASSES, 99);
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options(0.01))) {
            assertThat(trainer.parameters()).extracting(GraphParameter::name).containsExactlyInAnyOrder("w1", "b1", "w2", "b2");

            List<Float> losses = train(trainer, x, labels, FEATURES, 32, 150, "x", "y");
            double first = mean(losses.subList(0, 10));
            double last = mean(losses.subList(140, 150));
            assertThat(last).as("loss of the last 10 steps vs the first 10 (%.3f)", first).isLessThan(0.5 * first);

            trainer.writeBack(model);
            // only the weights' values changed: same nodes, same storage form, same interface
            assertThat(model.graph().getNodeList()).extracting(NodeProto::getOpType)
                    .containsExactlyElementsOf(original.getGraph().getNodeList().stream().map(NodeProto::getOpType).toList());
            assertThat(model.graph().getInitializerCount()).isEqualTo(original.getGraph().getInitializerCount());
            assertThat(model.graph().getInputList()).isEqualTo(original.getGraph().getInputList());
            assertThat(model.graph().getOutputList()).isEqualTo(original.getGraph().getOutputList());
            assertThat(model.floats(Weights.find(model, "w1").orElseThrow()))
                    .isNotEqualTo(Tensors.toFloats(Weights.find(OnnxModel.of(original), "w1").orElseThrow(), null));

            Path file = dir.resolve("trained.onnx");
            model.write(file);
            float[] test = TrainingModels.inputs(new Random(2), 64, FEATURES);
            long[] shape = {64, FEATURES};
            OrtReference.Values ort = OrtReference.run(Files.readAllBytes(file),
                    Map.of("x", Tensors.ofFloats("x", shape, test)), false).get("y");
            OrtReference.assertClose("written-back model", ort, predict(trainer.module(), "x", test, shape, "y"), 1e-5, 1e-4);
            System.out.printf("MLP (constant nodes %s): loss %.3f -> %.3f; max |ORT - trainer| %.2g%n", constantNodes, first, last,
                    OrtReference.maxAbsDifference(ort, predict(trainer.module(), "x", test, shape, "y")));
            OnnxChecker.assertValid(file);
        }
    }

    @Test
    void adamWTakesTheBiasCorrectedFirstStepAndDecaysOnlyMatrices() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(FEATURES, 8, CLASSES, false, 4));
        double rate = 0.01;
        double decay = 0.1;
        OnnxTrainer.Options options = options(rate).withOptimizer(AdamW.Settings.defaults().withWeightDecay(decay));
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options); NDManager scope = NDManager.newBaseManager()) {
            float[] x = TrainingModels.inputs(new Random(5), 8, FEATURES);
            try (TrainingStep step = trainer.newStep()) {
                NDArray y = step.forward(Map.of("x", step.manager().create(x, new Shape(8, FEATURES))), List.of("y")).get("y");
                step.backward(y.square().mean());
            }
            Map<String, float[]> before = new java.util.HashMap<>();
            Map<String, float[]> gradients = new java.util.HashMap<>();
            for (GraphParameter p : trainer.parameters()) {
                before.put(p.name(), p.array().toFloatArray());
                try (NDArray g = p.array().getGradient()) {
                    gradients.put(p.name(), g.toFloatArray());
                }
            }
            assertThat(trainer.optimizerStep()).isEqualTo(rate);
            for (GraphParameter p : trainer.parameters()) {
                float[] w0 = before.get(p.name());
                float[] g = gradients.get(p.name());
                float[] w1 = p.array().toFloatArray();
                double factor = p.decays() ? 1 - rate * decay : 1;
                for (int i = 0; i < w0.length; i++) {
                    // first step: m = (1 - b1) g, v = (1 - b2) g^2, so the step is lr g / (|g| + eps / sqrt(1 - b2))
                    double expected = w0[i] * factor - rate * g[i] / (Math.abs(g[i]) + 1e-8 / Math.sqrt(0.001));
                    assertThat((double) w1[i]).as(p.name() + "[" + i + "]").isCloseTo(expected, within(2e-6));
                }
            }
            assertThat(trainer.parameters()).filteredOn(GraphParameter::decays).extracting(GraphParameter::name)
                    .containsExactlyInAnyOrder("w1", "w2");
            try (NDArray g = trainer.parameters().get(0).array().getGradient()) {
                assertThat(g.abs().sum().getFloat()).as("gradients are zeroed after the step").isZero();
            }
        }
    }

    /** A backward pass with NaN gradients (here from a NaN input) changes no weight and no step count, with or without clipping. */
    @Test
    void aStepWithNonFiniteGradientsIsSkippedNotApplied() {
        for (double clip : new double[] {1.0, 0}) {
            OnnxModel model = OnnxModel.of(SmallModels.mlp(FEATURES, 8, CLASSES, false, 4));
            OnnxTrainer.Options options = options(0.01).withOptimizer(AdamW.Settings.defaults().withMaxGradNorm(clip));
            try (OnnxTrainer trainer = OnnxTrainer.create(model, options)) {
                float[] x = TrainingModels.inputs(new Random(5), 8, FEATURES);
                x[3] = Float.NaN;
                try (TrainingStep step = trainer.newStep()) {
                    NDArray y = step.forward(Map.of("x", step.manager().create(x, new Shape(8, FEATURES))), List.of("y")).get("y");
                    step.backward(y.square().mean());
                }
                Map<String, float[]> before = new java.util.HashMap<>();
                for (GraphParameter p : trainer.parameters()) {
                    before.put(p.name(), p.array().toFloatArray());
                }
                trainer.optimizerStep();
                assertThat(trainer.lastStepSkipped()).as("clip " + clip).isTrue();
                assertThat(trainer.stepCount()).isZero();
                for (GraphParameter p : trainer.parameters()) {
                    assertThat(p.array().toFloatArray()).as(p.name()).containsExactly(before.get(p.name()));
                    try (NDArray g = p.array().getGradient()) {
                        assertThat(g.abs().sum().getFloat()).as("the bad gradients are dropped").isZero();
                    }
                }

                // the next good batch trains as usual
                x[3] = 0.5f;
                try (TrainingStep step = trainer.newStep()) {
                    NDArray y = step.forward(Map.of("x", step.manager().create(x, new Shape(8, FEATURES))), List.of("y")).get("y");
                    step.backward(y.square().mean());
                }
                trainer.optimizerStep();
                assertThat(trainer.lastStepSkipped()).isFalse();
                assertThat(trainer.stepCount()).isEqualTo(1);
                assertThat(trainer.parameters().get(0).array().toFloatArray()).isNotEqualTo(before.get(trainer.parameters().get(0).name()));
            }
        }
    }

    @Test
    void warmUpAndCosineScheduleDrivesTheSteps() {
        LearningRateSchedule schedule = LearningRateSchedule.warmupCosine(1e-3, 10, 110, 1e-5);
        assertThat(schedule.rate(0)).isCloseTo(1e-4, within(1e-12));
        assertThat(schedule.rate(9)).isCloseTo(1e-3, within(1e-12));
        assertThat(schedule.rate(10)).isCloseTo(1e-3, within(1e-12));
        assertThat(schedule.rate(60)).isCloseTo((1e-3 + 1e-5) / 2, within(1e-12));
        assertThat(schedule.rate(110)).isCloseTo(1e-5, within(1e-12));
        assertThat(schedule.rate(500)).isCloseTo(1e-5, within(1e-12));
        assertThatThrownBy(() -> LearningRateSchedule.warmupCosine(1e-3, 20, 10, 0)).isInstanceOf(IllegalArgumentException.class);

        OnnxModel model = OnnxModel.of(SmallModels.mlp(FEATURES, 8, CLASSES, false, 4));
        try (OnnxTrainer trainer = OnnxTrainer.create(model, OnnxTrainer.Options.defaults().withSchedule(schedule))) {
            float[] x = TrainingModels.inputs(new Random(6), 64, FEATURES);
            int[] labels = TrainingModels.teacherLabels(x, FEATURES, CLASSES, 1);
            for (int s = 0; s < 12; s++) {
                assertThat(trainer.learningRate()).isEqualTo(schedule.rate(s));
                train(trainer, x, labels, FEATURES, 8, 1, "x", "y");
            }
            assertThat(trainer.stepCount()).isEqualTo(12);
        }
    }

    @Test
    void dropoutActsOnlyInTrainingAndTheSeedMakesRunsRepeatable() {
        ModelProto proto = TrainingModels.mlpWithDropout(8, 64, 3, 0.5f, 5);
        float[] x = TrainingModels.inputs(new Random(7), 32, 8);
        try (OnnxTrainer trainer = OnnxTrainer.create(OnnxModel.of(proto), options(0.01))) {
            try (NDManager scope = NDManager.newBaseManager()) {
                Map<String, NDArray> inference = trainer.predict(scope, Map.of("x", scope.create(x, new Shape(32, 8))),
                        List.of("hidden", "dropped"));
                assertThat(inference.get("dropped").toFloatArray()).containsExactly(inference.get("hidden").toFloatArray());
            }
            try (TrainingStep step = trainer.newStep()) {
                Map<String, NDArray> out = step.forward(Map.of("x", step.manager().create(x, new Shape(32, 8))), List.of("hidden", "dropped"));
                float[] hidden = out.get("hidden").toFloatArray();
                float[] dropped = out.get("dropped").toFloatArray();
                int active = 0;
                int zeroed = 0;
                for (int i = 0; i < hidden.length; i++) {
                    if (hidden[i] != 0) {
                        active++;
                        if (dropped[i] == 0) {
                            zeroed++;
                        } else {
                            assertThat(dropped[i]).as("kept values are scaled by 1 / (1 - ratio)").isCloseTo(hidden[i] * 2, within(1e-5f));
                        }
                    }
                }
                assertThat((double) zeroed / active).as("share dropped").isBetween(0.4, 0.6);
                step.backward(out.get("dropped").sum());
            }
        }
        float[] first = trainedWeights(proto, x, 11);
        assertThat(trainedWeights(proto, x, 11)).as("same seed, same weights").containsExactly(first);
        assertThat(trainedWeights(proto, x, 12)).as("another seed drops other units").isNotEqualTo(first);
    }

    private static float[] trainedWeights(ModelProto proto, float[] x, int seed) {
        int[] labels = TrainingModels.teacherLabels(x, 8, 3, 3);
        try (OnnxTrainer trainer = OnnxTrainer.create(OnnxModel.of(proto), options(0.01).withSeed(seed))) {
            train(trainer, x, labels, 8, 16, 6, "x", "y");
            return trainer.parameters().get(0).array().toFloatArray();
        }
    }

    @Test
    void batchNormTrainsOnBatchStatisticsAndItsRunningStatisticsAreWrittenBack() throws Exception {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(4, 8, 16, false, 3));
        Random random = new Random(8);
        float[] images = new float[16 * 784];
        for (int i = 0; i < images.length; i++) {
            images[i] = random.nextFloat();
        }
        int[] labels = random.ints(16, 0, 10).toArray();
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options(0.01))) {
            assertThat(trainer.module().runningStatistics()).containsOnlyKeys("conv1.bn.mean", "conv1.bn.var", "conv2.bn.mean", "conv2.bn.var");
            assertThat(trainer.parameters()).extracting(GraphParameter::name).contains("conv1.bn.gamma", "conv1.bn.beta")
                    .doesNotContain("conv1.bn.mean", "conv1.bn.var");
            float[] meanBefore = trainer.module().runningStatistics().get("conv1.bn.mean").toFloatArray();
            float[] conv1Out;
            try (TrainingStep step = trainer.newStep()) {
                NDArray in = step.manager().create(images, new Shape(16, 1, 28, 28));
                Map<String, NDArray> out = step.forward(Map.of("input", in), List.of("logits", "conv1.out"));
                conv1Out = out.get("conv1.out").mean(new int[] {0}).mean(new int[] {1}).mean(new int[] {1}).toFloatArray();
                step.backward(Losses.crossEntropy(out.get("logits"), step.manager().create(labels)));
            }
            trainer.optimizerStep();
            float[] meanAfter = trainer.module().runningStatistics().get("conv1.bn.mean").toFloatArray();
            for (int c = 0; c < meanAfter.length; c++) {
                assertThat(meanAfter[c]).as("running mean = 0.9 running + 0.1 batch mean, channel " + c)
                        .isCloseTo(0.9f * meanBefore[c] + 0.1f * conv1Out[c], within(1e-5f));
            }

            trainer.writeBack(model);
            assertThat(model.floats(Weights.find(model, "conv1.bn.mean").orElseThrow())).containsExactly(meanAfter);
            Path file = dir.resolve("cnn.onnx");
            model.write(file);
            long[] shape = {4, 1, 28, 28};
            float[] test = java.util.Arrays.copyOf(images, 4 * 784);
            OrtReference.Values ort = OrtReference.run(Files.readAllBytes(file), Map.of("input", Tensors.ofFloats("input", shape, test)), false)
                    .get("logits");
            OrtReference.assertClose("written-back CNN", ort, predict(trainer.module(), "input", test, shape, "logits"), 1e-5, 1e-4);
        }
    }

    @Test
    void hiddenStatesCanBeReadAndGradientsFlowOnlyWhereTheLossReaches() {
        ModelProto proto = SmallModels.mlp(FEATURES, 32, CLASSES, false, 9);
        GraphProto withHidden = proto.getGraph().toBuilder().addOutput(Nodes.tensorInfo("h2", DataType.FLOAT, "batch", 32)).build();
        float[] x = TrainingModels.inputs(new Random(10), 8, FEATURES);
        long[] shape = {8, FEATURES};
        OrtReference.Values ortHidden = OrtReference.run(SmallModels.model(withHidden, 17), Map.of("x", Tensors.ofFloats("x", shape, x)), false)
                .get("h2");
        OnnxTrainer.Options options = options(0.01).withOptimizer(AdamW.Settings.defaults().withWeightDecay(0));
        try (OnnxTrainer trainer = OnnxTrainer.create(OnnxModel.of(proto), options)) {
            OrtReference.assertClose("hidden state h2", ortHidden, predict(trainer.module(), "x", x, shape, "h2"), 1e-5, 1e-4);
            float[] w1 = trainer.parameters().get(0).array().toFloatArray();
            float[] w2 = trainer.parameters().get(2).array().toFloatArray();
            try (TrainingStep step = trainer.newStep()) {
                NDArray hidden = step.forward(Map.of("x", step.manager().create(x, new Shape(shape))), List.of("h2")).get("h2");
                step.backward(Losses.meanSquaredError(hidden, step.manager().ones(hidden.getShape())));
            }
            trainer.optimizerStep();
            assertThat(trainer.parameters().get(0).name()).isEqualTo("w1");
            assertThat(trainer.parameters().get(0).array().toFloatArray()).as("w1 feeds the hidden state").isNotEqualTo(w1);
            assertThat(trainer.parameters().get(2).array().toFloatArray()).as("w2 comes after it").containsExactly(w2);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"2:4", "magnitude 60%"})
    void prunedWeightsStayExactlyZero(String pattern) {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(FEATURES, 32, CLASSES, false, 11));
        SparsityPruner.prune(model, pattern.equals("2:4") ? SparsityOptions.nOfM(2, 4) : SparsityOptions.magnitude(0.6));
        List<SparsityRecord.Entry> record = SparsityRecord.read(model);
        assertThat(record).extracting(SparsityRecord.Entry::name).containsExactlyInAnyOrder("w1", "w2");
        float[] w1Before = model.floats(Weights.find(model, "w1").orElseThrow());
        float[] x = TrainingModels.inputs(new Random(12), 256, FEATURES);
        int[] labels = TrainingModels.teacherLabels(x, FEATURES, CLASSES, 13);
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options(0.02))) {
            assertThat(trainer.parameters()).filteredOn(p -> p.mask() != null).extracting(GraphParameter::name)
                    .containsExactlyInAnyOrder("w1", "w2");
            train(trainer, x, labels, FEATURES, 32, 40, "x", "y");
            trainer.writeBack(model);
        }
        float[] w1After = model.floats(Weights.find(model, "w1").orElseThrow());
        int changed = 0;
        for (int i = 0; i < w1Before.length; i++) {
            if (w1Before[i] == 0) {
                assertThat(w1After[i]).as("pruned w1[" + i + "]").isZero();
            } else if (w1After[i] != w1Before[i]) {
                changed++;
            }
        }
        assertThat(changed).as("kept weights trained").isGreaterThan(w1Before.length / 4);
        if (pattern.equals("2:4")) {
            // w1 is [in, out]; MatMul reduces over axis 0: at most 2 nonzeros in every 4 consecutive rows of a column
            for (int column = 0; column < 32; column++) {
                for (int group = 0; group < FEATURES; group += 4) {
                    int nonzero = 0;
                    for (int r = group; r < group + 4; r++) {
                        nonzero += w1After[r * 32 + column] != 0 ? 1 : 0;
                    }
                    assertThat(nonzero).isLessThanOrEqualTo(2);
                }
            }
        }
        assertThat(SparsityRecord.read(model)).isEqualTo(record);
    }

    @Test
    void memoryStaysFlatAcrossSteps() {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 14));
        Random random = new Random(15);
        float[] images = new float[32 * 784];
        for (int i = 0; i < images.length; i++) {
            images[i] = random.nextFloat();
        }
        int[] labels = random.ints(32, 0, 10).toArray();
        try (OnnxTrainer trainer = OnnxTrainer.create(model, options(0.001))) {
            Runnable step = () -> {
                try (TrainingStep s = trainer.newStep()) {
                    NDArray in = s.manager().create(images, new Shape(32, 1, 28, 28));
                    NDArray logits = s.forward(Map.of("input", in), List.of("logits")).get("logits");
                    s.backward(Losses.crossEntropy(logits, s.manager().create(labels)));
                }
                trainer.optimizerStep();
                try (NDManager scope = NDManager.newBaseManager()) {
                    trainer.predict(scope, Map.of("input", scope.create(images, new Shape(32, 1, 28, 28))), List.of("logits"));
                }
            };
            for (int i = 0; i < 5; i++) {
                step.run();
            }
            int arrays = trainer.module().manager().getManagedArrays().size();
            long resident = TrainingModels.residentBytes();
            for (int i = 0; i < 60; i++) {
                step.run();
            }
            assertThat(trainer.module().manager().getManagedArrays()).as("arrays held by the model").hasSize(arrays);
            long growth = TrainingModels.residentBytes() - resident;
            System.out.printf("resident memory growth over 60 steps: %.1f MiB%n", growth / 1048576.0);
            // one step's activations are ~25 MiB: a leak of them would grow by 1.5 GiB
            assertThat(growth).as("resident memory growth").isLessThan(150L << 20);
        }
    }

    @Test
    void anUnsupportedOperatorIsNamedWithItsNode() {
        GraphProto graph = GraphProto.newBuilder().setName("g")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 2, 3))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 2, 3))
                .addNode(Nodes.node("Relu", "first", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Celu", "smooth_act", List.of("r"), List.of("y"))).build();
        assertThatThrownBy(() -> OnnxGraphModule.load(OnnxModel.of(SmallModels.model(graph, 17))))
                .isInstanceOf(ModelPressException.class)
                .satisfies(e -> assertThat(((ModelPressException) e).code()).isEqualTo(ErrorCode.UNSUPPORTED_OPERATOR))
                .hasMessageStartingWith("node 'smooth_act' (Celu): operator 'Celu' is not supported by the ONNX-on-DJL trainer");

        GraphProto contrib = graph.toBuilder().setNode(1, Nodes.node("com.microsoft", "FusedGelu", "fused", List.of("r"), List.of("y"))).build();
        assertThatThrownBy(() -> OnnxGraphModule.load(OnnxModel.of(SmallModels.model(contrib, 17))))
                .hasMessageContaining("node 'fused'").hasMessageContaining("operator 'com.microsoft:FusedGelu' is not supported");

        assertThatThrownBy(() -> OnnxGraphModule.load(OnnxModel.of(SmallModels.withIf(4, 1))))
                .isInstanceOf(ModelPressException.class)
                .hasMessageContaining("node 'branch' (If)").hasMessageContaining("subgraph");
    }

    @Test
    void badInputsAndOutputsGetClearErrors() {
        try (OnnxGraphModule module = OnnxGraphModule.load(OnnxModel.of(SmallModels.mlp(4, 8, 2, false, 1)));
             NDManager scope = NDManager.newBaseManager()) {
            NDArray good = scope.create(new float[8], new Shape(2, 4));
            assertThatThrownBy(() -> module.predict(scope, Map.of()))
                    .hasMessage("input 'x': is required but was not given");
            assertThatThrownBy(() -> module.predict(scope, Map.of("x", scope.create(new int[8], new Shape(2, 4)))))
                    .hasMessage("input 'x': is int32 but the model declares float");
            assertThatThrownBy(() -> module.predict(scope, Map.of("x", scope.create(new float[6], new Shape(2, 3)))))
                    .hasMessageContaining("input 'x': has shape [2, 3] but the model declares [batch, 4]");
            assertThatThrownBy(() -> module.predict(scope, Map.of("x", good, "z", good)))
                    .hasMessageContaining("input 'z': the model has no such input");
            assertThatThrownBy(() -> module.predict(scope, Map.of("x", good), List.of("nope")))
                    .satisfies(e -> assertThat(((ModelPressException) e).code()).isEqualTo(ErrorCode.BAD_ARGUMENT))
                    .hasMessageContaining("value 'nope'");
            OnnxModel other = OnnxModel.of(SmallModels.mlp(4, 6, 2, false, 1));
            assertThatThrownBy(() -> module.writeBack(other))
                    .satisfies(e -> assertThat(((ModelPressException) e).code()).isEqualTo(ErrorCode.BAD_ARGUMENT))
                    .hasMessageContaining("weight 'w1': has shape [4, 6] in the model written back into, but [4, 8] in the trainer");
        }
    }
}
