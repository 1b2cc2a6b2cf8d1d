package io.modelpress.train.export;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.train.nn.Pool2d;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class OnnxExporterTest {
    private static final float TOLERANCE = 1e-4f;
    private static final Shape IMAGE = new Shape(2, 1, 28, 28);

    @TempDir
    Path dir;
    private NDManager manager;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(1234);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** Every exportable CNN layer, with non-default options, including a nested sequential block. */
    static SequentialBlock cnn() {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(8).optPadding(new Shape(1, 1)).build())
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Pool2d.max(new Shape(2, 2)))
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(16).optStride(new Shape(2, 2))
                        .optPadding(new Shape(2, 2)).optDilation(new Shape(2, 2)).optGroups(2).optBias(false).build())
                .add(BatchNorm.builder().optEpsilon(1e-3f).build())
                .add(Activation.relu6Block())
                .add(Pool2d.avg(new Shape(3, 3), new Shape(2, 2), new Shape(1, 1), true))
                .add(new SequentialBlock()
                        .add(Conv2d.builder().setKernelShape(new Shape(1, 1)).setFilters(12).build())
                        .add(Activation.tanhBlock()))
                .add(Pool.globalAvgPool2dBlock())
                .add(Dropout.builder().optRate(0.5f).build())
                .add(Linear.builder().setUnits(10).build());
    }

    /** Linear on a rank-3 input (MatMul path), flatten, Linear on a matrix (Gemm path), no-bias Linear. */
    static SequentialBlock mlp() {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(16).build())
                .add(Activation.sigmoidBlock())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(32).build())
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Dropout.builder().build())
                .add(Linear.builder().setUnits(7).optBias(false).build())
                .add(Blocks.identityBlock());
    }

    /** Random weights, and batch-norm statistics that are far from the 0/1 they start with. */
    private void initialise(Block block, Shape inputShape) {
        block.setInitializer(new NormalInitializer(0.5f), Parameter.Type.GAMMA);
        block.setInitializer(new NormalInitializer(0.5f), Parameter.Type.BETA);
        block.setInitializer(new NormalInitializer(0.3f), Parameter.Type.BIAS);
        block.initialize(manager, DataType.FLOAT32, inputShape);
        for (int step = 0; step < 5; step++) {
            try (NDManager scope = manager.newSubManager()) {
                NDArray batch = scope.randomNormal(new Shape(16).addAll(inputShape.slice(1))).mul(2).add(0.7f);
                block.forward(new ParameterStore(scope, false), new NDList(batch), true);
            }
        }
    }

    private float exportAndCompare(Block block, Shape exampleShape) throws Exception {
        Path file = dir.resolve("model.onnx");
        OnnxExporter.standard().write(block, exampleShape, file);
        // a different batch size than at export: the batch dimension is symbolic
        try (NDManager scope = manager.newSubManager()) {
            NDArray input = scope.randomNormal(new Shape(5).addAll(exampleShape.slice(1)));
            return ExportCheck.maxAbsDifference(block, file, input);
        }
    }

    @Test
    void cnnMatchesDjlInOnnxRuntime() throws Exception {
        SequentialBlock cnn = cnn();
        initialise(cnn, IMAGE);
        BatchNorm firstNorm = (BatchNorm) cnn.getChildren().get(1).getValue();
        assertThat(firstNorm.getDirectParameters().get("runningMean").getArray().abs().max().getFloat())
                .as("batch-norm statistics were updated").isGreaterThan(0.01f);

        float difference = exportAndCompare(cnn, IMAGE);

        assertThat(difference).isLessThan(TOLERANCE);
        System.out.printf("CNN: max |DJL - ORT| = %.3g%n", difference);
    }

    @Test
    void mlpMatchesDjlInOnnxRuntime() throws Exception {
        SequentialBlock mlp = mlp();
        Shape input = new Shape(3, 4, 12);
        initialise(mlp, input);

        float difference = exportAndCompare(mlp, input);

        assertThat(difference).isLessThan(TOLERANCE);
        System.out.printf("MLP: max |DJL - ORT| = %.3g%n", difference);
    }

    static Stream<Pool2d> pools() {
        Shape k3 = new Shape(3, 3);
        Shape s2 = new Shape(2, 2);
        Shape p1 = new Shape(1, 1);
        return Stream.of(
                Pool2d.max(new Shape(2, 2)),
                Pool2d.max(k3, s2, p1, false),
                Pool2d.max(k3, s2, p1, true),
                Pool2d.max(new Shape(3, 2), new Shape(1, 2), new Shape(1, 0), true),
                // ceil mode: a window overrunning the padding in H, a last window starting in the padding in W
                Pool2d.max(k3, new Shape(3, 4), p1, true),
                Pool2d.avg(k3, new Shape(3, 4), p1, true),
                Pool2d.avg(new Shape(2, 2)),
                Pool2d.avg(k3, s2, p1, false),
                Pool2d.avg(k3, s2, p1, true),
                Pool2d.avg(new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), true),
                Pool2d.avg(new Shape(2, 3), new Shape(2, 1), new Shape(0, 1), true));
    }

    @ParameterizedTest
    @MethodSource("pools")
    void poolingMatchesDjlOnOddSizes(Pool2d pool) throws Exception {
        Shape input = new Shape(1, 3, 9, 10);
        pool.initialize(manager, DataType.FLOAT32, input);

        float difference = exportAndCompare(pool, input);

        assertThat(difference).as(pool.toString()).isLessThan(TOLERANCE);
    }

    @Test
    void poolPaddingLargerThanHalfTheKernelIsRejected() {
        assertThatThrownBy(() -> Pool2d.max(new Shape(2, 2), new Shape(2, 2), new Shape(2, 0), false))
                .isInstanceOfSatisfying(ModelPressException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT))
                .hasMessageContaining("padding (2, 0) must be at most half the kernel (2, 2)");
    }

    @Test
    void modelHasNamedInputWithSymbolicBatchAndNamedOutput() {
        SequentialBlock cnn = cnn();
        initialise(cnn, IMAGE);

        ModelProto model = OnnxExporter.standard().export(cnn, IMAGE);

        assertThat(model.getIrVersion()).isEqualTo(8);
        assertThat(model.getOpsetImport(0).getVersion()).isEqualTo(17);
        assertThat(ValueShape.of(model.getGraph().getInput(0)).toString()).isEqualTo("input: float[batch,1,28,28]");
        assertThat(ValueShape.of(model.getGraph().getOutput(0)).toString()).isEqualTo("logits: float[batch,10]");
        assertThat(model.getGraph().getNodeList()).extracting(NodeProto::getOpType)
                .doesNotContain("Dropout")
                .containsSubsequence("Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization",
                        "Clip", "AveragePool", "Conv", "Tanh", "GlobalAveragePool", "Flatten", "Gemm");
        // names trace back to DJL's blocks; the conv without bias has only its weight
        assertThat(model.getGraph().getInitializerList()).extracting(t -> t.getName())
                .contains("01Conv2d.weight", "01Conv2d.bias", "05Conv2d.weight", "09SequentialBlock.01Conv2d.weight")
                .doesNotContain("05Conv2d.bias");
    }

    @Test
    void onnxCheckerAcceptsExportedModels() throws Exception {
        assumeTrue(ExportCheck.onnxCheckerAvailable(), "python3-onnx is not installed (apt-get install python3-onnx)");
        SequentialBlock cnn = cnn();
        initialise(cnn, IMAGE);
        SequentialBlock mlp = mlp();
        Shape mlpInput = new Shape(3, 4, 12);
        initialise(mlp, mlpInput);
        Path cnnFile = dir.resolve("cnn.onnx");
        Path mlpFile = dir.resolve("mlp.onnx");
        OnnxExporter.standard().write(cnn, IMAGE, cnnFile);
        OnnxExporter.standard().write(mlp, mlpInput, mlpFile);

        for (Path file : List.of(cnnFile, mlpFile)) {
            ExportCheck.ProcessResult check = ExportCheck.onnxChecker(file);
            assertThat(check.exitCode()).as(check.output()).isZero();
            OnnxModel.read(file); // and core's own validation
        }
    }

    @Test
    void unknownBlockIsRejectedByNameAndPlace() {
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(8).build())
                .add(new SequentialBlock().add(Activation.reluBlock()).add(LayerNorm.builder().build()));
        model.initialize(manager, DataType.FLOAT32, new Shape(2, 4));

        assertThatThrownBy(() -> OnnxExporter.standard().export(model, new Shape(2, 4)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPERATOR);
                    assertThat(e.location()).isEqualTo("block '02SequentialBlock.02LayerNorm'");
                    assertThat(e.detail()).contains("LayerNorm", "has no ONNX export", "supported blocks: ", "Conv2d");
                });
    }

    @Test
    void djlPoolingLambdaIsRejectedWithTheAlternative() {
        SequentialBlock model = new SequentialBlock().add(Pool.maxPool2dBlock(new Shape(2, 2)));
        model.initialize(manager, DataType.FLOAT32, IMAGE);

        assertThatThrownBy(() -> OnnxExporter.standard().export(model, IMAGE))
                .isInstanceOf(ModelPressException.class)
                .hasMessageContaining("block '01LambdaBlock'")
                .hasMessageContaining("io.modelpress.train.nn.Pool2d.max(...)");
    }

    @Test
    void lambdaThatDoesNotComputeItsNameIsRejected() {
        SequentialBlock model = new SequentialBlock().add(new LambdaBlock(Activation::sigmoid, "ReLU"));
        model.initialize(manager, DataType.FLOAT32, new Shape(2, 4));

        assertThatThrownBy(() -> OnnxExporter.standard().export(model, new Shape(2, 4)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPERATOR);
                    assertThat(e.getMessage()).contains("01LambdaBlock", "named 'ReLU' does not compute");
                });
    }

    @Test
    void anonymousLambdaIsRejected() {
        SequentialBlock model = new SequentialBlock().add(x -> x);
        model.initialize(manager, DataType.FLOAT32, new Shape(2, 4));

        assertThatThrownBy(() -> OnnxExporter.standard().export(model, new Shape(2, 4)))
                .isInstanceOf(ModelPressException.class)
                .hasMessageContaining("without a name");
    }

    @Test
    void uninitialisedBlockIsRejected() {
        assertThatThrownBy(() -> OnnxExporter.standard().export(mlp(), new Shape(2, 4, 12)))
                .isInstanceOfSatisfying(ModelPressException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT))
                .hasMessageContaining("not initialised");
    }

    @Test
    void registeredHandlerExtendsTheExporterWithoutTouchingTheWalker() throws Exception {
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(6).build())
                .add(LayerNorm.builder().optCenter(false).optScale(false).build());
        Shape input = new Shape(2, 5);
        model.initialize(manager, DataType.FLOAT32, input);
        OnnxExporter exporter = OnnxExporter.standard().register(LayerNorm.class, (block, value, context) ->
                context.node("LayerNormalization", List.of(value.name(),
                        context.initializer("scale", new long[] {6}, new float[] {1, 1, 1, 1, 1, 1})),
                        ExportContext.integer("axis", -1), ExportContext.real("epsilon", 1e-5f)));
        Path file = dir.resolve("layernorm.onnx");
        OnnxModel.of(exporter.export(model, input)).write(file);

        try (NDManager scope = manager.newSubManager()) {
            assertThat(ExportCheck.maxAbsDifference(model, file, scope.randomNormal(new Shape(4, 5))))
                    .isLessThan(TOLERANCE);
        }
    }
}
