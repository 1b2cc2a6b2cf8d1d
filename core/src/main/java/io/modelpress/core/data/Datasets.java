package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.ValueShape;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Opens data files for a model, choosing the reader from the file's content (not trusting its name alone). */
public final class Datasets {
    private Datasets() {
    }

    /** The kinds of data file ModelPress reads. */
    public enum Format {
        /** NumPy .npy: one array for a single-input model. */
        NPY,
        /**
         * NumPy .npz: arrays named like the model inputs (samples along each input's batch axis, see {@link BatchAxes};
         * inputs without one are fed whole), optional {@code labels} and {@code attention_mask}.
         */
        NPZ,
        /** IDX images (MNIST style), plain or gzip, or a folder of them; labels found beside the images. */
        IDX,
        /** JSON Lines with a "text" (and optional "label") per line; needs a tokenizer. */
        JSONL
    }

    /**
     * Opens {@code path} to feed a model (a null path gives seeded synthetic inputs, see SyntheticDataset) with the given
     * inputs (in the model's order, as from a model session). The options' hints are checked against the inputs first.
     *
     * @throws ModelPressException BAD_DATA for unreadable files, DATA_MISMATCH when the data does not fit the inputs,
     *                             BAD_ARGUMENT for a missing file or tokenizer
     */
    public static Dataset open(Path path, List<ValueShape> modelInputs, DataOptions options) {
        if (modelInputs.isEmpty()) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model", "has no inputs to feed data to");
        }
        options.hints().check(modelInputs);
        if (path == null) {
            return new SyntheticDataset(modelInputs, options.limit() == Long.MAX_VALUE ? SyntheticDataset.DEFAULT_SAMPLES : options.limit(),
                    options.hints());
        }
        Dataset dataset = switch (formatOf(path)) {
            case NPY -> NumpyDataset.openNpy(path, modelInputs, options.hints());
            case NPZ -> NumpyDataset.openNpz(path, modelInputs, options.hints());
            case IDX -> IdxDataset.open(path, modelInputs, options.split());
            case JSONL -> TextDataset.open(path, modelInputs, options.tokenizer(), options.maxTokens());
        };
        return options.limit() == Long.MAX_VALUE ? dataset : new Limited(dataset, options.limit());
    }

    /** Recognises a data file by its first bytes; a folder is taken as IDX files. */
    public static Format formatOf(Path path) {
        String where = "data " + path;
        if (Files.isDirectory(path)) {
            return Format.IDX;
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "does not exist");
        }
        byte[] head = new byte[6];
        int n;
        try (InputStream in = Files.newInputStream(path)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, where, "cannot be read: " + e.getMessage(), e);
        }
        if (n == 0) {
            throw new ModelPressException(ErrorCode.BAD_DATA, where, "is empty");
        }
        if (n >= 6 && (head[0] & 0xff) == 0x93 && head[1] == 'N' && head[2] == 'U' && head[3] == 'M' && head[4] == 'P' && head[5] == 'Y') {
            return Format.NPY;
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5)) {
            return Format.NPZ;
        }
        if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
            if (!isIdx(gunzippedHead(path))) {
                throw new ModelPressException(ErrorCode.BAD_DATA, where, "is gzip-compressed but holds no IDX data (the only gzip data ModelPress reads)");
            }
            return Format.IDX;
        }
        if (isIdx(head)) {
            return Format.IDX;
        }
        String name = path.getFileName().toString().toLowerCase();
        if (name.endsWith(".jsonl") || name.endsWith(".json") || firstNonBlank(path) == '{') {
            return Format.JSONL;
        }
        throw new ModelPressException(ErrorCode.BAD_DATA, where,
                "is not a recognised data file: expected NumPy .npy/.npz, IDX (MNIST-style) or JSON Lines text");
    }

    private static boolean isIdx(byte[] head) {
        return head.length >= 4 && head[0] == 0 && head[1] == 0 && head[2] == 0x08 && head[3] >= 1 && head[3] <= 4;
    }

    private static byte[] gunzippedHead(Path path) {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(path))) {
            return in.readNBytes(4);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "data " + path, "is a damaged gzip file: " + e.getMessage(), e);
        }
    }

    private static int firstNonBlank(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(4096);
            for (byte b : head) {
                if (!Character.isWhitespace(b)) {
                    return b;
                }
            }
            return -1;
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "data " + path, "cannot be read: " + e.getMessage(), e);
        }
    }

    /** Stops after a number of samples. */
    private static final class Limited implements Dataset {
        private final Dataset inner;
        private long remaining;

        Limited(Dataset inner, long limit) {
            this.inner = inner;
            this.remaining = limit;
        }

        @Override
        public boolean hasLabels() {
            return inner.hasLabels();
        }

        @Override
        public Batch next(int maxRows) {
            if (remaining <= 0) {
                return null;
            }
            Batch batch = inner.next((int) Math.min(maxRows, remaining));
            if (batch != null) {
                remaining -= batch.size();
            }
            return batch;
        }

        @Override
        public ModelPressException explain(ModelPressException failure) {
            return inner.explain(failure);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
