package io.modelpress.examples.fashion;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import io.modelpress.train.nn.Pool2d;

import java.nio.file.Path;
import java.util.List;

/**
 * A MobileNet-style CNN on Fashion-MNIST, trained by the teacher's recipe ({@link FashionMnistTeacher}) for 3 epochs:
 * depthwise-separable convolutions with squeeze-excite gates, for pruning benchmarks and tests (depthwise filters
 * follow the channels they filter; a gate's channels are tied to the features it scales).
 *
 * <p>Network: conv3x3(32)-BN-ReLU-maxpool2 (14x14) - two depthwise-separable blocks, the second at stride 2 (7x7):
 * depthwise conv3x3-BN-ReLU, squeeze-excite (global average pool, conv1x1 to a quarter of the channels, ReLU,
 * conv1x1 back, sigmoid, channel-wise product with the features), pointwise conv1x1(64, then 128)-BN-ReLU - global
 * average pooling - linear(10).
 */
public final class SqueezeExciteCnn {
    /** The cached model; the suffix changes whenever the network or its recipe does. */
    public static final String MODEL_FILE = "fashion-mnist-dwse-v1.onnx";
    public static final FashionMnistTeacher.Architecture ARCHITECTURE = new FashionMnistTeacher.Architecture(MODEL_FILE,
            "Fashion-MNIST depthwise-separable squeeze-excite CNN trained with DJL (PyTorch engine)", SqueezeExciteCnn::network);

    private SqueezeExciteCnn() {
    }

    /** The teacher's recipe with 3 epochs. */
    public static FashionMnistTeacher.Options recipe() {
        return FashionMnistTeacher.Options.defaults().withEpochs(3);
    }

    /** The model, trained by {@link #recipe()} unless {@code cacheDir} holds one made by it. */
    public static Path trainOrLoad(Path cacheDir) {
        return FashionMnistTeacher.trainOrLoad(ARCHITECTURE, recipe(), cacheDir);
    }

    /** The network, uninitialised; input [N, 1, 28, 28]. */
    public static SequentialBlock network() {
        return new SequentialBlock()
                .add(ResidualCnn.conv(32, 3, 1))
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Pool2d.max(new Shape(2, 2)))
                .add(separable(32, 64, 1, 14))
                .add(separable(64, 128, 2, 7))
                .add(Pool.globalAvgPool2dBlock())
                .add(Linear.builder().setUnits(FashionMnist.CLASSES).build());
    }

    /** Depthwise conv3x3 at {@code stride}, squeeze-excite on its output ({@code side} x {@code side}), pointwise conv1x1. */
    static Block separable(int channels, int filters, int stride, int side) {
        return new SequentialBlock()
                .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).optStride(new Shape(stride, stride))
                        .setFilters(channels).optGroups(channels).optBias(false).build())
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(squeezeExcite(channels, side))
                .add(ResidualCnn.conv(filters, 1, 1))
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock());
    }

    /** {@code x * sigmoid(conv1x1(relu(conv1x1(mean over the map of x))))}, squeezing to a quarter of the channels. */
    static Block squeezeExcite(int channels, int side) {
        Block gate = new SequentialBlock()
                .add(Pool2d.avg(new Shape(side, side)))
                .add(Conv2d.builder().setKernelShape(new Shape(1, 1)).setFilters(channels / 4).build())
                .add(Activation.reluBlock())
                .add(Conv2d.builder().setKernelShape(new Shape(1, 1)).setFilters(channels).build())
                .add(Activation.sigmoidBlock());
        return new ParallelBlock(list -> new NDList(list.get(0).singletonOrThrow().mul(list.get(1).singletonOrThrow())),
                List.of(Blocks.identityBlock(), gate));
    }
}
