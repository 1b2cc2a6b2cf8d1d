package io.modelpress.examples.fashion;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.examples.fashion.FashionMnist.Split;
import io.modelpress.train.export.OnnxExporter;
import io.modelpress.train.nn.Pool2d;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * A reproducible recipe for a small CNN teacher on Fashion-MNIST: trained with DJL's PyTorch engine on the CPU,
 * exported to ONNX with {@link OnnxExporter}, and evaluated on the 10,000 test images both in DJL and in ONNX Runtime
 * (the two accuracies must agree, which checks the export on real data).
 *
 * <p>Network: conv3x3(32)-BN-ReLU-maxpool2 - conv3x3(64)-BN-ReLU-maxpool2 - flatten - linear(128)-ReLU-dropout(0.1) -
 * linear(10). Adam (learning rate 1e-3, cosine decay), batch 64, softmax cross-entropy, 4 epochs, fixed seed, one
 * PyTorch thread.
 *
 * <p>Other networks train by the same recipe through {@link Architecture} ({@link ResidualCnn}, {@link SqueezeExciteCnn}).
 */
public final class FashionMnistTeacher {
    /** The file {@link #trainOrLoad} caches; the suffix changes whenever the default recipe does. */
    public static final String MODEL_FILE = "fashion-mnist-cnn-v2.onnx";
    /** Largest accepted gap, in percentage points, between DJL's and ONNX Runtime's test accuracy. */
    public static final double MAX_ACCURACY_GAP_POINTS = 0.2;

    private static final System.Logger LOG = System.getLogger(FashionMnistTeacher.class.getName());
    private static final int EVAL_BATCH = 500;
    private static final String RECIPE_KEY = "modelpress.recipe_options";

    private FashionMnistTeacher() {
    }

    /**
     * A network this recipe trains: the file its model is cached as (the suffix changes whenever the network or its
     * default options do), what the model's doc string says, and the uninitialised network (input [N, 1, 28, 28]).
     */
    public record Architecture(String modelFile, String description, Supplier<? extends Block> network) {
    }

    /** This class's network, cached as {@value #MODEL_FILE}. */
    public static final Architecture TEACHER = new Architecture(MODEL_FILE,
            "Fashion-MNIST CNN teacher trained with DJL (PyTorch engine)", FashionMnistTeacher::network);

    /**
     * What to train.
     *
     * @param learningRate Adam's initial learning rate; it decays along a cosine to 1/50 of it by the last step
     * @param trainLimit train on the first this many shuffled images per epoch (0 or the dataset size: all); only for
     *     shortened runs
     * @param threads PyTorch's intra-op threads while training. One by default: with one thread the result is
     *     bit-for-bit reproducible, and on shared cores it was several times faster than two (which spin-wait)
     */
    public record Options(Path dataDir, int epochs, int seed, int batchSize, float learningRate, int trainLimit, int threads) {
        public static Options defaults() {
            return new Options(FashionMnist.DEFAULT_DIR, 4, 42, 64, 1e-3f, 0, 1);
        }

        public Options {
            if (epochs < 1 || batchSize < 2 || !(learningRate > 0) || trainLimit < 0 || threads < 1) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "training options", "need epochs >= 1, batch size"
                        + " >= 2, learning rate > 0, train limit >= 0 and threads >= 1; got epochs " + epochs
                        + ", batch size " + batchSize + ", learning rate " + learningRate + ", train limit " + trainLimit
                        + ", threads " + threads);
            }
        }

        /** The settings that decide what is learnt (not where the data is or how many threads compute it). */
        public String recipeKey() {
            return String.format(Locale.ROOT, "epochs=%d seed=%d batch=%d lr=%s train-limit=%d",
                    epochs, seed, batchSize, Float.toString(learningRate), trainLimit);
        }

        public Options withDataDir(Path value) {
            return new Options(value, epochs, seed, batchSize, learningRate, trainLimit, threads);
        }

        public Options withEpochs(int value) {
            return new Options(dataDir, value, seed, batchSize, learningRate, trainLimit, threads);
        }

        public Options withSeed(int value) {
            return new Options(dataDir, epochs, value, batchSize, learningRate, trainLimit, threads);
        }

        public Options withBatchSize(int value) {
            return new Options(dataDir, epochs, seed, value, learningRate, trainLimit, threads);
        }

        public Options withLearningRate(float value) {
            return new Options(dataDir, epochs, seed, batchSize, value, trainLimit, threads);
        }

        public Options withTrainLimit(int value) {
            return new Options(dataDir, epochs, seed, batchSize, learningRate, value, threads);
        }

        public Options withThreads(int value) {
            return new Options(dataDir, epochs, seed, batchSize, learningRate, trainLimit, value);
        }
    }

    /** What a training run produced and measured; accuracies are fractions of the 10,000 test images. */
    public record Report(Path model, Options options, int trainImagesPerEpoch, List<Double> epochLosses,
                         double djlTestAccuracy, double onnxTestAccuracy, Duration trainingTime, Duration totalTime) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "epochs %d, %d training images per epoch, training %.1f s (total %.1f s),"
                            + " epoch losses %s, test accuracy DJL %.2f%% / ONNX Runtime %.2f%%, model %s",
                    options.epochs(), trainImagesPerEpoch, trainingTime.toMillis() / 1000.0, totalTime.toMillis() / 1000.0,
                    epochLosses.stream().map(l -> String.format(Locale.ROOT, "%.4f", l)).toList(),
                    100 * djlTestAccuracy, 100 * onnxTestAccuracy, model);
        }
    }

    /**
     * The teacher model with the default recipe: {@code cacheDir/}{@value #MODEL_FILE} if it exists and was made by
     * that recipe (its metadata says so), otherwise trains it (a few minutes on two cores) from the dataset in
     * {@link FashionMnist#DEFAULT_DIR} and caches it there.
     */
    public static Path trainOrLoad(Path cacheDir) {
        return trainOrLoad(TEACHER, Options.defaults(), cacheDir);
    }

    /**
     * The model of {@code architecture} trained with {@code recipe}: {@code cacheDir/modelFile} if it exists and was
     * made by that recipe, otherwise trained and cached there.
     */
    public static Path trainOrLoad(Architecture architecture, Options recipe, Path cacheDir) {
        Path model = cacheDir.resolve(architecture.modelFile());
        if (Files.isRegularFile(model)) {
            String cachedKey = recipeKeyOf(model);
            if (recipe.recipeKey().equals(cachedKey)) {
                return model;
            }
            LOG.log(System.Logger.Level.INFO, "{0} was not made by the default recipe ({1}); training it again",
                    model, cachedKey);
        }
        Report report = train(architecture, recipe, model);
        LOG.log(System.Logger.Level.INFO, "trained {0}: {1}", architecture.modelFile(), report);
        return model;
    }

    /**
     * Where models are cached across modules: the {@value ReferenceModels#CACHE_PROPERTY} system property (the build
     * sets it to the root's {@code target/models}), else {@code target/models} under the working directory.
     */
    public static Path defaultCacheDir() {
        return Path.of(System.getProperty(ReferenceModels.CACHE_PROPERTY, "target/models")).toAbsolutePath();
    }

    /** The recipe a model of ours was trained with, or null when it is not readable or has none. */
    static String recipeKeyOf(Path model) {
        try {
            return OnnxModel.read(model).build().getMetadataPropsList().stream()
                    .filter(p -> p.getKey().equals(RECIPE_KEY)).map(StringStringEntryProto::getValue)
                    .findFirst().orElse(null);
        } catch (ModelPressException e) {
            return null;
        }
    }

    /**
     * The network, uninitialised; its input is [N, 1, 28, 28] with pixels in [0, 1]. 32 and 64 filters (v2; v1 had 16
     * and 32): the first convolution reads one channel and runs in float even in an INT8 model (ONNX Runtime's integer
     * convolution needs several input channels to be fast), so the layers after it must carry most of the work for
     * quantization to pay off - measured 1.9x faster at batch 32 with 32/64 filters, 1.4x with 16/32.
     */
    public static SequentialBlock network() {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(32).build())
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Pool2d.max(new Shape(2, 2)))
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(64).build())
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Pool2d.max(new Shape(2, 2)))
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(128).build())
                .add(Activation.reluBlock())
                .add(Dropout.builder().optRate(0.1f).build())
                .add(Linear.builder().setUnits(FashionMnist.CLASSES).build());
    }

    /** Trains, exports to {@code out}, and checks that DJL and ONNX Runtime agree on the test set. */
    public static Report train(Options options, Path out) {
        return train(TEACHER, options, out);
    }

    /** Trains {@code architecture}'s network, exports to {@code out}, and checks that DJL and ONNX Runtime agree. */
    public static Report train(Architecture architecture, Options options, Path out) {
        DjlSetup.offline();
        Engine engine = Engine.getEngine("PyTorch");
        // PyTorch's thread count is process-wide: set it for this run only
        int previousThreads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(options.threads());
        try {
            return trainWithEngine(engine, architecture, options, out);
        } finally {
            JniUtils.setNumThreads(previousThreads);
        }
    }

    private static Report trainWithEngine(Engine engine, Architecture architecture, Options options, Path out) {
        long start = System.nanoTime();
        FashionMnist.InMemory trainSet = FashionMnist.load(options.dataDir(), Split.TRAIN);
        int perEpoch = options.trainLimit() == 0 ? trainSet.size() : Math.min(options.trainLimit(), trainSet.size());
        engine.setRandomSeed(options.seed());
        Random shuffle = new Random(options.seed());
        Shape inputShape = new Shape(options.batchSize(), 1, FashionMnist.SIDE, FashionMnist.SIDE);

        try (Model model = Model.newInstance("fashion-mnist-cnn", Device.cpu(), engine.getEngineName())) {
            model.setBlock(architecture.network().get());
            int steps = options.epochs() * ((perEpoch + options.batchSize() - 1) / options.batchSize());
            Tracker learningRate = Tracker.cosine().setBaseValue(options.learningRate())
                    .optFinalValue(options.learningRate() / 50).setMaxUpdates(steps).build();
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(learningRate).build())
                    .optDevices(new Device[] {Device.cpu()});
            List<Double> losses = new ArrayList<>();
            long trainStart = System.nanoTime();
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(inputShape);
                int[] order = identity(trainSet.size());
                FashionMnist.Batch batch = trainSet.newBatch(options.batchSize());
                for (int epoch = 1; epoch <= options.epochs(); epoch++) {
                    long epochStart = System.nanoTime();
                    shuffle(order, shuffle);
                    double lossSum = 0;
                    for (int from = 0; from < perEpoch; from += options.batchSize()) {
                        trainSet.fill(batch, order, from, Math.min(options.batchSize(), perEpoch - from));
                        lossSum += trainStep(trainer, batch) * batch.size;
                    }
                    losses.add(lossSum / perEpoch);
                    LOG.log(System.Logger.Level.INFO, String.format(Locale.ROOT, "epoch %d/%d: loss %.4f, %.1f s",
                            epoch, options.epochs(), lossSum / perEpoch, (System.nanoTime() - epochStart) / 1e9));
                }
            }
            Duration trainingTime = Duration.ofNanos(System.nanoTime() - trainStart);

            double djlAccuracy = djlAccuracy(model.getBlock(), options.dataDir());
            export(model.getBlock(), architecture, options, djlAccuracy, out);
            double onnxAccuracy = Evaluator.run(EvaluationRequest.of(out, options.dataDir())
                    .withDataOptions(DataOptions.DEFAULT.withSplit("test")).withBatchSize(EVAL_BATCH).withLatencyBudget(Duration.ZERO)).accuracy();
            double gapPoints = 100 * Math.abs(djlAccuracy - onnxAccuracy);
            if (gapPoints > MAX_ACCURACY_GAP_POINTS) {
                throw new ModelPressException(ErrorCode.INTERNAL, "model " + out, String.format(Locale.ROOT,
                        "the exported model disagrees with DJL: test accuracy %.2f%% in ONNX Runtime, %.2f%% in DJL",
                        100 * onnxAccuracy, 100 * djlAccuracy));
            }
            return new Report(out, options, perEpoch, List.copyOf(losses), djlAccuracy, onnxAccuracy, trainingTime,
                    Duration.ofNanos(System.nanoTime() - start));
        }
    }

    /** One optimiser step; returns the batch's mean loss. Every array of the step lives in one scoped manager. */
    private static double trainStep(Trainer trainer, FashionMnist.Batch batch) {
        try (NDManager scope = trainer.getManager().newSubManager()) {
            NDArray images = scope.create(batch.pixels, new Shape(batch.size, 1, FashionMnist.SIDE, FashionMnist.SIDE));
            NDArray labels = scope.create(toFloats(batch.labels, batch.size));
            float loss;
            try (GradientCollector collector = trainer.newGradientCollector()) {
                NDArray logits = trainer.forward(new NDList(images)).singletonOrThrow();
                NDArray lossValue = trainer.getLoss().evaluate(new NDList(labels), new NDList(logits));
                collector.backward(lossValue);
                loss = lossValue.getFloat();
            }
            // the PyTorch engine's Adam update zeroes each weight's gradient after applying it
            trainer.step();
            return loss;
        }
    }

    /** Test accuracy of the trained block in DJL (inference mode), streaming the test set. */
    static double djlAccuracy(Block block, Path dataDir) {
        int[] correct = {0};
        int[] total = {0};
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            FashionMnist.forEachBatch(dataDir, Split.TEST, EVAL_BATCH, batch -> {
                try (NDManager scope = manager.newSubManager()) {
                    NDArray images = scope.create(batch.pixels, new Shape(batch.size, 1, FashionMnist.SIDE, FashionMnist.SIDE));
                    float[] logits = block.forward(new ParameterStore(scope, false), new NDList(images), false)
                            .singletonOrThrow().toFloatArray();
                    correct[0] += countCorrect(logits, batch.labels, batch.size);
                    total[0] += batch.size;
                }
            });
        }
        return (double) correct[0] / total[0];
    }

    private static void export(Block block, Architecture architecture, Options options, double djlAccuracy, Path out) {
        ModelProto exported = OnnxExporter.standard().export(block, new Shape(1, 1, FashionMnist.SIDE, FashionMnist.SIDE));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("modelpress.recipe", architecture.modelFile().replace(".onnx", ""));
        metadata.put("modelpress.dataset", "fashion-mnist");
        metadata.put("modelpress.input", "float [batch,1,28,28], pixels / 255");
        metadata.put(RECIPE_KEY, options.recipeKey());
        metadata.put("modelpress.test_accuracy_djl", String.format(Locale.ROOT, "%.4f", djlAccuracy));
        ModelProto.Builder model = exported.toBuilder().setDocString(architecture.description());
        metadata.forEach((k, v) -> model.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        OnnxModel.of(model.build()).write(out);
    }

    private static float[] toFloats(int[] values, int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private static int[] identity(int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        return order;
    }

    /** Fisher-Yates with the recipe's own generator, so the order depends on the seed alone. */
    private static void shuffle(int[] order, Random random) {
        for (int i = order.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }

    /** How many rows of {@code logits} ([count, 10], row-major) have their maximum at the label. */
    static int countCorrect(float[] logits, int[] labels, int count) {
        int classes = logits.length / count;
        int correct = 0;
        for (int row = 0; row < count; row++) {
            int best = 0;
            for (int c = 1; c < classes; c++) {
                if (logits[row * classes + c] > logits[row * classes + best]) {
                    best = c;
                }
            }
            if (best == labels[row]) {
                correct++;
            }
        }
        return correct;
    }
}
