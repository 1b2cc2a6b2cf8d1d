package io.modelpress.train.export;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.train.nn.Pool2d;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * ParallelBlock joins (residual sum, squeeze-excite product, channel concatenation), depthwise convolution and a
 * pooling window over the whole map, each compared with DJL in ONNX Runtime on another batch size than at export.
 */
class ParallelBlockExportTest {
    private static final float TOLERANCE = 1e-4f;
    private static final Shape IMAGE = new Shape(2, 3, 12, 12);

    @TempDir
    Path dir;
    private NDManager manager;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(99);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    static Block conv(int filters, int kernel, int stride, int groups) {
        return Conv2d.builder().setKernelShape(new Shape(kernel, kernel)).optPadding(new Shape(kernel / 2, kernel / 2))
                .optStride(new Shape(stride, stride)).optGroups(groups).setFilters(filters).build();
    }

    static ParallelBlock sum(Block... branches) {
        return new ParallelBlock(list -> new NDList(list.get(0).singletonOrThrow().add(list.get(1).singletonOrThrow())), List.of(branches));
    }

    /** Identity and projection shortcuts, a depthwise-separable branch gated by squeeze-excite, an inception concat. */
    static SequentialBlock network() {
        Block squeezeExcite = new ParallelBlock(list -> new NDList(list.get(0).singletonOrThrow().mul(list.get(1).singletonOrThrow())),
                List.of(Blocks.identityBlock(), new SequentialBlock()
                        .add(Pool2d.avg(new Shape(6, 6)))
                        .add(conv(4, 1, 1, 1))
                        .add(Activation.reluBlock())
                        .add(conv(16, 1, 1, 1))
                        .add(Activation.sigmoidBlock())));
        return new SequentialBlock()
                .add(conv(8, 3, 1, 1))
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(sum(new SequentialBlock().add(conv(8, 3, 1, 1)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
                        .add(conv(8, 3, 1, 1)).add(BatchNorm.builder().build()), Blocks.identityBlock()))
                .add(Activation.reluBlock())
                .add(sum(new SequentialBlock().add(conv(16, 3, 2, 1)).add(BatchNorm.builder().build()),
                        new SequentialBlock().add(conv(16, 1, 2, 1)).add(BatchNorm.builder().build())))
                .add(conv(16, 3, 1, 16)) // depthwise
                .add(BatchNorm.builder().build())
                .add(Activation.relu6Block())
                .add(squeezeExcite)
                .add(new ParallelBlock(list -> new NDList(NDArrays.concat(new NDList(list.get(0).singletonOrThrow(),
                        list.get(1).singletonOrThrow()), 1)), List.of(conv(8, 1, 1, 1), conv(4, 3, 1, 1))))
                .add(Pool.globalAvgPool2dBlock())
                .add(Linear.builder().setUnits(5).build());
    }

    private void initialise(Block block, Shape inputShape) {
        block.setInitializer(new NormalInitializer(0.5f), Parameter.Type.GAMMA);
        block.setInitializer(new NormalInitializer(0.5f), Parameter.Type.BETA);
        block.setInitializer(new NormalInitializer(0.3f), Parameter.Type.BIAS);
        block.initialize(manager, DataType.FLOAT32, inputShape);
        for (int step = 0; step < 3; step++) {
            try (NDManager scope = manager.newSubManager()) {
                block.forward(new ParameterStore(scope, false), new NDList(scope.randomNormal(inputShape).add(0.5f)), true);
            }
        }
    }

    @Test
    void residualDepthwiseSqueezeExciteAndConcatMatchDjlInOnnxRuntime() throws Exception {
        SequentialBlock network = network();
        initialise(network, IMAGE);
        Path file = dir.resolve("parallel.onnx");
        ModelProto model = OnnxExporter.standard().export(network, IMAGE);
        OnnxModel.of(model).write(file);

        List<String> ops = model.getGraph().getNodeList().stream().map(NodeProto::getOpType).toList();
        assertThat(ops).containsSubsequence("Conv", "Add", "Relu", "Conv", "Add", "Conv", "Clip", "GlobalAveragePool", "Conv",
                "Relu", "Conv", "Sigmoid", "Mul", "Concat", "GlobalAveragePool", "Flatten", "Gemm");
        assertThat(ops).filteredOn("Add"::equals).hasSize(2);
        NodeProto depthwise = model.getGraph().getNodeList().stream()
                .filter(n -> n.getAttributeList().stream().anyMatch(a -> a.getName().equals("group") && a.getI() == 16))
                .findFirst().orElseThrow();
        assertThat(depthwise.getOpType()).isEqualTo("Conv");
        // the residual Add of the first block reads the block's input itself (the identity branch adds no node)
        NodeProto firstAdd = model.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Add")).findFirst().orElseThrow();
        assertThat(firstAdd.getInput(1)).endsWith("/Relu");
        try (NDManager scope = manager.newSubManager()) {
            NDArray input = scope.randomNormal(new Shape(5, 3, 12, 12));
            assertThat(ExportCheck.maxAbsDifference(network, file, input)).isLessThan(TOLERANCE);
        }
    }

    @Test
    void onnxCheckerAcceptsTheExport() throws Exception {
        assumeTrue(ExportCheck.onnxCheckerAvailable(), "python3-onnx is not installed (apt-get install python3-onnx)");
        SequentialBlock network = network();
        initialise(network, IMAGE);
        Path file = dir.resolve("parallel.onnx");
        OnnxExporter.standard().write(network, IMAGE, file);

        ExportCheck.ProcessResult check = ExportCheck.onnxChecker(file);
        assertThat(check.exitCode()).as(check.output()).isZero();
    }

    @Test
    void poolingWindowSmallerThanTheMapStaysALocalPool() {
        SequentialBlock network = new SequentialBlock().add(Pool2d.avg(new Shape(6, 6))).add(Pool2d.max(new Shape(2, 2)));
        network.initialize(manager, DataType.FLOAT32, IMAGE);

        ModelProto model = OnnxExporter.standard().export(network, IMAGE);

        // 12x12 -> 2x2 by a 6x6 window, then one 2x2 window over the whole 2x2 map
        assertThat(model.getGraph().getNodeList()).extracting(NodeProto::getOpType).containsExactly("AveragePool", "GlobalMaxPool");
    }

    @Test
    void joinThatIsNeitherSumProductNorConcatIsRejected() {
        SequentialBlock network = new SequentialBlock().add(new ParallelBlock(
                list -> new NDList(list.get(0).singletonOrThrow().sub(list.get(1).singletonOrThrow())),
                List.of(conv(3, 1, 1, 1), Blocks.identityBlock())));
        network.initialize(manager, DataType.FLOAT32, IMAGE);

        assertThatThrownBy(() -> OnnxExporter.standard().export(network, IMAGE))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPERATOR);
                    assertThat(e.location()).isEqualTo("block '01ParallelBlock'");
                    assertThat(e.detail()).contains("neither the sum, the product nor the concatenation");
                });
    }
}
