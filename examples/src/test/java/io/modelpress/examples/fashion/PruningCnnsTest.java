package io.modelpress.examples.fashion;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.train.export.OnnxExporter;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The residual and the depthwise-separable squeeze-excite CNNs: what their exports contain (checked on initialised
 * networks, no data needed), and short training runs of each (needs the Debian dataset).
 */
@Order(2)
class PruningCnnsTest {
    private static final Shape IMAGE = new Shape(1, 1, FashionMnist.SIDE, FashionMnist.SIDE);

    private static GraphProto exportInitialised(SequentialBlock network) {
        DjlSetup.offline();
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            Engine.getEngine("PyTorch").setRandomSeed(5);
            network.initialize(manager, DataType.FLOAT32, IMAGE);
            ModelProto model = OnnxExporter.standard().export(network, IMAGE);
            return model.getGraph();
        }
    }

    private static List<String> ops(GraphProto graph) {
        return graph.getNodeList().stream().map(NodeProto::getOpType).toList();
    }

    private static NodeProto producer(GraphIndex index, String value) {
        return index.producerNode(value).orElseThrow(() -> new AssertionError("no node produces " + value));
    }

    private static long attribute(NodeProto node, String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst().orElseThrow().getI();
    }

    @Test
    void residualCnnAddsEachBlocksInputOrItsProjectionToTheBlocksOutput() {
        GraphProto graph = exportInitialised(ResidualCnn.network());
        GraphIndex index = new GraphIndex(graph);

        assertThat(ops(graph)).containsSubsequence("Conv", "BatchNormalization", "Relu", "MaxPool",
                "Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Add", "Relu",
                "Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Conv", "BatchNormalization", "Add", "Relu",
                "GlobalAveragePool", "Flatten", "Gemm");
        List<NodeProto> adds = graph.getNodeList().stream().filter(n -> n.getOpType().equals("Add")).toList();
        assertThat(adds).hasSize(2);
        // identity shortcut: the first Add reads the MaxPool's output; projection: the second a 1x1 conv's batch norm
        assertThat(producer(index, adds.get(0).getInput(1)).getOpType()).isEqualTo("MaxPool");
        NodeProto projection = producer(index, producer(index, adds.get(1).getInput(1)).getInput(0));
        assertThat(attribute(projection, "group")).isEqualTo(1);
        assertThat(projection.getAttributeList().stream().filter(a -> a.getName().equals("kernel_shape")).findFirst().orElseThrow()
                .getIntsList()).containsExactly(1L, 1L);
    }

    @Test
    void squeezeExciteCnnHasDepthwiseFiltersAndChannelGates() {
        GraphProto graph = exportInitialised(SqueezeExciteCnn.network());
        GraphIndex index = new GraphIndex(graph);

        List<NodeProto> depthwise = graph.getNodeList().stream()
                .filter(n -> n.getOpType().equals("Conv") && attribute(n, "group") > 1).toList();
        assertThat(depthwise).extracting(n -> attribute(n, "group")).containsExactly(32L, 64L);
        List<NodeProto> gates = graph.getNodeList().stream().filter(n -> n.getOpType().equals("Mul")).toList();
        assertThat(gates).hasSize(2).allSatisfy(mul -> {
            // features * sigmoid(conv1x1(relu(conv1x1(global average pool(features)))))
            NodeProto sigmoid = producer(index, mul.getInput(1));
            assertThat(sigmoid.getOpType()).isEqualTo("Sigmoid");
            NodeProto excite = producer(index, sigmoid.getInput(0));
            NodeProto relu = producer(index, excite.getInput(0));
            NodeProto squeeze = producer(index, relu.getInput(0));
            NodeProto pool = producer(index, squeeze.getInput(0));
            assertThat(List.of(excite.getOpType(), relu.getOpType(), squeeze.getOpType(), pool.getOpType()))
                    .containsExactly("Conv", "Relu", "Conv", "GlobalAveragePool");
            assertThat(pool.getInput(0)).isEqualTo(mul.getInput(0));
        });
    }

    @TempDir
    Path dir;

    /*
     * Short runs (one epoch over 12,000 images) of each network's own recipe: that it learns, exports and runs in ONNX
     * Runtime as in DJL. The full three-epoch models are trained on first use by PruningBench, which reports their
     * top-1 (bench/results/pruning-cnn.md).
     */
    @Test
    void residualCnnLearnsAndRunsInOnnxRuntimeAsInDjl() {
        assumeDataset();
        checkTrained(FashionMnistTeacher.train(ResidualCnn.ARCHITECTURE, shortRun(ResidualCnn.recipe()), dir.resolve(ResidualCnn.MODEL_FILE)));
    }

    @Test
    void squeezeExciteCnnLearnsAndRunsInOnnxRuntimeAsInDjl() {
        assumeDataset();
        checkTrained(FashionMnistTeacher.train(SqueezeExciteCnn.ARCHITECTURE, shortRun(SqueezeExciteCnn.recipe()),
                dir.resolve(SqueezeExciteCnn.MODEL_FILE)));
    }

    private static FashionMnistTeacher.Options shortRun(FashionMnistTeacher.Options recipe) {
        return recipe.withEpochs(1).withTrainLimit(12_000);
    }

    private static void assumeDataset() {
        assumeTrue(FashionMnist.isPresent(FashionMnist.DEFAULT_DIR), "Fashion-MNIST is not installed: " + FashionMnist.INSTALL_HINT);
    }

    private static void checkTrained(FashionMnistTeacher.Report report) {
        System.out.println(report);
        // far above chance (10 %) after one short epoch (the squeeze-excite CNN measured 51 % after 6,000 images); DJL and ONNX Runtime agree on the 10,000 test images
        assertThat(report.onnxTestAccuracy()).isGreaterThan(0.5);
        assertThat(report.onnxTestAccuracy()).isCloseTo(report.djlTestAccuracy(), org.assertj.core.api.Assertions.within(0.002));
        OnnxModel onnx = OnnxModel.read(report.model());
        assertThat(ValueShape.of(onnx.build().getGraph().getInput(0)).toString()).isEqualTo("input: float[batch,1,28,28]");
        assertThat(ValueShape.of(onnx.build().getGraph().getOutput(0)).toString()).isEqualTo("logits: float[batch,10]");
        OnnxChecker.assertValid(report.model());
    }
}
