package io.modelpress.core.data;

import io.modelpress.core.onnx.DataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Datasets must stream: memory may not grow with the number of samples. */
class StreamingTest {
    private static final int ROW_FLOATS = 1024;
    private static final int ROW_BYTES = ROW_FLOATS * 4;
    /** Row r holds the value r % PERIOD in every element. */
    private static final int PERIOD = 1000;

    @TempDir
    Path dir;

    /**
     * An array larger than the whole heap (and than any Java array), generated on the fly and never stored: reading it
     * to the end works only if the reader keeps no more than a batch at a time.
     */
    @Test
    void anArrayLargerThanTheHeapStreamsThrough() {
        long rows = (Runtime.getRuntime().maxMemory() + (512L << 20)) / ROW_BYTES;
        assertThat(rows * ROW_BYTES).isGreaterThan(Runtime.getRuntime().maxMemory()).isGreaterThan(Integer.MAX_VALUE);
        int batchSize = 256;
        try (NumpyDataset data = NumpyDataset.openNpy(new SyntheticNpy(rows), "huge.npy",
                NumpyDatasetTest.input("x", DataType.FLOAT, -1, ROW_FLOATS))) {
            long seen = 0;
            for (Batch batch = data.next(batchSize); batch != null; batch = data.next(batchSize)) {
                HostArray x = batch.inputs().get("x");
                // first and last element of the batch carry their row numbers
                assertThat(x.get(0)).isEqualTo(seen % PERIOD);
                long lastRow = seen + batch.size() - 1;
                assertThat(x.get(x.elementCount() - 1)).isEqualTo(lastRow % PERIOD);
                seen += batch.size();
                assertThat(data.bufferedBytes()).isLessThanOrEqualTo(ROW_BYTES);
            }
            assertThat(seen).isEqualTo(rows);
            System.out.println("streamed " + rows * ROW_BYTES / (1 << 20) + " MiB through a heap of " + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB");
        }
    }

    /** A 100k-sample compressed .npz, read from disk: the readers buffer one sample per array, whatever the length. */
    @Test
    void npzReadersBufferOneSampleWhateverTheLength() {
        int rows = 100_000;
        HostArray x = HostArray.zeros(DataType.FLOAT, rows, 16);
        long[] labels = new long[rows];
        for (int r = 0; r < rows; r++) {
            x.set(r * 16 + 15, r);
            labels[r] = r % 10;
        }
        Path file = dir.resolve("long.npz");
        NpyWriter.writeNpz(file, Map.of("x", x, "labels", HostArray.of(labels, rows)), true);
        try (Dataset data = Datasets.open(file, List.of(NumpyDatasetTest.input("x", DataType.FLOAT, -1, 16)), DataOptions.DEFAULT)) {
            long seen = 0;
            for (Batch batch = data.next(512); batch != null; batch = data.next(512)) {
                assertThat(batch.inputs().get("x").get(15)).isEqualTo(seen);
                assertThat(batch.labels()[0]).isEqualTo(seen % 10);
                seen += batch.size();
                assertThat(((NumpyDataset) data).bufferedBytes()).isEqualTo(16 * 4 + 8);
            }
            assertThat(seen).isEqualTo(rows);
        }
    }

    /** A .npy stream: the header, then {@code rows} rows of ROW_FLOATS little-endian floats, made up as they are read. */
    private static final class SyntheticNpy extends InputStream {
        private final byte[] header;
        private final byte[] period;
        private final long total;
        private long position;

        SyntheticNpy(long rows) {
            header = NpyWriter.header("<f4", new long[] {rows, ROW_FLOATS});
            ByteBuffer block = ByteBuffer.allocate(PERIOD * ROW_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < PERIOD; r++) {
                for (int i = 0; i < ROW_FLOATS; i++) {
                    block.putFloat(r);
                }
            }
            period = block.array();
            total = header.length + rows * ROW_BYTES;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] into, int offset, int length) {
            if (position >= total) {
                return -1;
            }
            int n = (int) Math.min(length, total - position);
            if (position < header.length) {
                n = (int) Math.min(n, header.length - position);
                System.arraycopy(header, (int) position, into, offset, n);
            } else {
                int at = (int) ((position - header.length) % period.length);
                n = Math.min(n, period.length - at);
                System.arraycopy(period, at, into, offset, n);
            }
            position += n;
            return n;
        }
    }
}
