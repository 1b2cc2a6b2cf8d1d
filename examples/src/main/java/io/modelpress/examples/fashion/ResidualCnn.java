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
 * A small residual CNN on Fashion-MNIST, trained by the teacher's recipe ({@link FashionMnistTeacher}) for 3 epochs:
 * a model whose channels are tied together by skip connections (ONNX Add), for pruning benchmarks and tests.
 *
 * <p>Network: conv3x3(32)-BN-ReLU-maxpool2 (14x14) - a residual block of two conv3x3(32)-BN with an identity shortcut
 * - a residual block at stride 2 (7x7) of conv3x3(64)-BN-ReLU-conv3x3(64)-BN with a projection shortcut
 * conv1x1(64, stride 2)-BN - global average pooling - linear(10). Every residual sum is followed by ReLU. Convolutions before a batch norm have no bias.
 */
public final class ResidualCnn {
    /** The cached model; the suffix changes whenever the network or its recipe does. */
    public static final String MODEL_FILE = "fashion-mnist-resnet-v1.onnx";
    public static final FashionMnistTeacher.Architecture ARCHITECTURE = new FashionMnistTeacher.Architecture(MODEL_FILE,
            "Fashion-MNIST residual CNN trained with DJL (PyTorch engine)", ResidualCnn::network);

    private ResidualCnn() {
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
                .add(conv(32, 3, 1))
                .add(BatchNorm.builder().build())
                .add(Activation.reluBlock())
                .add(Pool2d.max(new Shape(2, 2)))
                .add(residual(new SequentialBlock()
                        .add(conv(32, 3, 1)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
                        .add(conv(32, 3, 1)).add(BatchNorm.builder().build()),
                        Blocks.identityBlock()))
                .add(residual(new SequentialBlock()
                        .add(conv(64, 3, 2)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
                        .add(conv(64, 3, 1)).add(BatchNorm.builder().build()),
                        new SequentialBlock().add(conv(64, 1, 2)).add(BatchNorm.builder().build())))
                .add(Pool.globalAvgPool2dBlock())
                .add(Linear.builder().setUnits(FashionMnist.CLASSES).build());
    }

    /** {@code relu(branch(x) + shortcut(x))}. */
    static Block residual(Block branch, Block shortcut) {
        return new SequentialBlock()
                .add(new ParallelBlock(list -> new NDList(list.get(0).singletonOrThrow().add(list.get(1).singletonOrThrow())),
                        List.of(branch, shortcut)))
                .add(Activation.reluBlock());
    }

    /** A convolution without bias (a batch norm follows), padded to keep the size at stride 1. */
    static Block conv(int filters, int kernel, int stride) {
        return Conv2d.builder().setKernelShape(new Shape(kernel, kernel)).optPadding(new Shape(kernel / 2, kernel / 2))
                .optStride(new Shape(stride, stride)).setFilters(filters).optBias(false).build();
    }
}
