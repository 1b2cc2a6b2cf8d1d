package io.modelpress.examples.fashion;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.IdxFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The Fashion-MNIST dataset as Debian's {@code dataset-fashion-mnist} installs it: gzip'd IDX files, 60,000 training
 * and 10,000 test images of 28x28 unsigned bytes, labels 0-9. Images become floats in [0, 1], shape [N, 1, 28, 28].
 */
public final class FashionMnist {
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String INSTALL_HINT = "apt-get install dataset-fashion-mnist";
    public static final int SIDE = 28;
    public static final int PIXELS = SIDE * SIDE;
    public static final int CLASSES = 10;

    public enum Split {
        TRAIN("train"), TEST("t10k");

        private final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }
    }

    private FashionMnist() {
    }

    /** True when all four files are present in {@code dir}. */
    public static boolean isPresent(Path dir) {
        return Arrays.stream(Split.values()).allMatch(s -> Files.isReadable(images(dir, s)) && Files.isReadable(labels(dir, s)));
    }

    static Path images(Path dir, Split split) {
        return dir.resolve(split.prefix + "-images-idx3-ubyte.gz");
    }

    static Path labels(Path dir, Split split) {
        return dir.resolve(split.prefix + "-labels-idx1-ubyte.gz");
    }

    /**
     * A batch of images and labels, reused from batch to batch; only the first {@code size} entries are valid.
     * {@code pixels} holds {@code size * 784} floats in [0, 1], image after image.
     */
    public static final class Batch {
        public final float[] pixels;
        public final int[] labels;
        public int size;

        Batch(int capacity) {
            pixels = new float[capacity * PIXELS];
            labels = new int[capacity];
        }
    }

    /** Receives successive batches; must not keep the batch, which is overwritten by the next one. */
    @FunctionalInterface
    public interface BatchConsumer {
        void accept(Batch batch) throws Exception;
    }

    /** Streams a split in file order, {@code batchSize} images at a time (the last batch may be smaller). */
    public static void forEachBatch(Path dir, Split split, int batchSize, BatchConsumer consumer) {
        requirePresent(dir);
        byte[] image = new byte[PIXELS];
        byte[] label = new byte[1];
        Batch batch = new Batch(batchSize);
        int seen = 0;
        try (IdxFile images = openChecked(images(dir, split), PIXELS); IdxFile labels = openChecked(labels(dir, split), 1)) {
            checkSameCount(images, labels, split);
            while (images.hasNext()) {
                batch.size = 0;
                while (batch.size < batchSize && images.hasNext()) {
                    images.next(image);
                    labels.next(label);
                    checkLabel(label[0], split, seen++);
                    put(batch, batch.size++, image, label[0]);
                }
                consumer.accept(batch);
            }
        } catch (ModelPressException e) {
            throw e;
        } catch (Exception e) {
            throw new ModelPressException(ErrorCode.INTERNAL, "Fashion-MNIST " + split, e.getMessage(), e);
        }
    }

    /**
     * The training images kept as bytes (47 MB for 60,000), because shuffling needs random access; batches are
     * converted to floats one at a time.
     */
    public static final class InMemory {
        private final byte[] images;
        private final byte[] labels;

        private InMemory(byte[] images, byte[] labels) {
            this.images = images;
            this.labels = labels;
        }

        public int size() {
            return labels.length;
        }

        /** Fills {@code batch} with the images at {@code order[from .. from + count)}. */
        public void fill(Batch batch, int[] order, int from, int count) {
            byte[] image = new byte[PIXELS];
            for (int i = 0; i < count; i++) {
                int index = order[from + i];
                System.arraycopy(images, index * PIXELS, image, 0, PIXELS);
                put(batch, i, image, labels[index]);
            }
            batch.size = count;
        }

        public Batch newBatch(int capacity) {
            return new Batch(capacity);
        }
    }

    public static InMemory load(Path dir, Split split) {
        requirePresent(dir);
        try (IdxFile images = openChecked(images(dir, split), PIXELS); IdxFile labels = openChecked(labels(dir, split), 1)) {
            checkSameCount(images, labels, split);
            int count = images.count();
            byte[] imageBytes = new byte[count * PIXELS];
            byte[] labelBytes = new byte[count];
            byte[] image = new byte[PIXELS];
            byte[] label = new byte[1];
            for (int i = 0; i < count; i++) {
                images.next(image);
                System.arraycopy(image, 0, imageBytes, i * PIXELS, PIXELS);
                labels.next(label);
                checkLabel(label[0], split, i);
                labelBytes[i] = label[0];
            }
            return new InMemory(imageBytes, labelBytes);
        }
    }

    private static void put(Batch batch, int slot, byte[] image, byte label) {
        int offset = slot * PIXELS;
        for (int p = 0; p < PIXELS; p++) {
            batch.pixels[offset + p] = (image[p] & 0xff) / 255f;
        }
        batch.labels[slot] = label;
    }

    private static void checkLabel(byte label, Split split, int index) {
        if (label < 0 || label >= CLASSES) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "Fashion-MNIST " + split + " label " + index, "is " + label
                    + ", expected 0-" + (CLASSES - 1));
        }
    }

    private static IdxFile openChecked(Path file, int recordSize) {
        IdxFile idx = IdxFile.open(file);
        if (idx.recordSize() != recordSize) {
            idx.close();
            throw new ModelPressException(ErrorCode.BAD_DATA, "file " + file.getFileName(), "records of "
                    + idx.recordSize() + " bytes, expected " + recordSize);
        }
        return idx;
    }

    private static void checkSameCount(IdxFile images, IdxFile labels, Split split) {
        if (images.count() != labels.count()) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "Fashion-MNIST " + split, images.count() + " images but "
                    + labels.count() + " labels");
        }
    }

    private static void requirePresent(Path dir) {
        if (!isPresent(dir)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "data dir " + dir, "Fashion-MNIST files "
                    + "(train/t10k-images-idx3-ubyte.gz, train/t10k-labels-idx1-ubyte.gz) not found; " + INSTALL_HINT);
        }
    }
}
