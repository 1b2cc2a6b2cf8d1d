package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.modelpress.core.onnx.DataType;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host values made engine arrays inside a node's scope must stay readable after that scope closed them: autograd keeps
 * such tensors (Gather's indices, Where's condition) for the backward pass. Views taken before the close stand in for
 * autograd's reference; the Java memory a closed array leaves behind is freed and overwritten in between.
 */
class HostArrayLifetimeTest {
    @Test
    void engineArraysMadeFromHostValuesOutliveTheirScope() {
        long[] indices = new long[4096];
        Arrays.setAll(indices, i -> i % 512);
        long[] flags = new long[4096];
        Arrays.setAll(flags, i -> i % 3 == 0 ? 1 : 0);
        try (NDManager step = NDManager.newBaseManager("PyTorch")) {
            List<NDArray> indexViews = new ArrayList<>();
            List<NDArray> flagViews = new ArrayList<>();
            for (int round = 0; round < 40; round++) {
                try (NDManager node = step.newSubManager()) {
                    NDArray index = OnnxTensors.toArray(node, new HostTensor(DataType.INT64, new long[] {4096}, indices));
                    NDArray flag = OnnxTensors.toArray(node, new HostTensor(DataType.BOOL, new long[] {4096}, flags));
                    indexViews.add(keep(index.reshape(64, 64), step));
                    flagViews.add(keep(flag.reshape(64, 64), step));
                }
                overwriteFreedMemory();
            }
            for (NDArray view : indexViews) {
                assertThat(view.toLongArray()).containsExactly(indices);
            }
            boolean[] expectedFlags = new boolean[flags.length];
            for (int i = 0; i < flags.length; i++) {
                expectedFlags[i] = flags[i] != 0;
            }
            for (NDArray view : flagViews) {
                assertThat(view.toBooleanArray()).containsExactly(expectedFlags);
            }
        }
    }

    private static NDArray keep(NDArray view, NDManager step) {
        view.attach(step);
        return view;
    }

    private static void overwriteFreedMemory() {
        System.gc();
        for (int i = 0; i < 16; i++) {
            ByteBuffer filler = ByteBuffer.allocateDirect(4096 * 8);
            while (filler.hasRemaining()) {
                filler.put((byte) 0x7f);
            }
        }
    }
}
