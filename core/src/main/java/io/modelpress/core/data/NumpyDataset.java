package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Samples from a .npy file (one array, for single-input models) or a .npz archive (arrays named like the model's
 * inputs, plus optional {@code labels} and {@code attention_mask}). Each array must have its input's rank; the samples
 * run along the input's batch axis ({@link BatchAxes}):
 * <ul>
 *   <li>along axis 0 (the usual {@code [samples, ...]}), the array is streamed sample by sample straight from its file
 *       or zip entry (stored or deflated), so memory does not depend on the number of samples;</li>
 *   <li>along another axis (a recurrent state {@code [2, samples, 128]}), the array is read whole and sliced;</li>
 *   <li>an input without a batch axis (a scalar such as a sample rate, as a 0-d array) takes its array whole with
 *       every batch;</li>
 *   <li>an array with a single sample (e.g. an initial state {@code [2,1,128]}) is repeated for every sample.</li>
 * </ul>
 * Inputs the file does not hold but that have a value hint ({@link InputHints}) are filled with that constant.
 */
final class NumpyDataset implements Dataset {
    static final String LABELS = "labels";
    static final String ATTENTION_MASK = "attention_mask";
    private static final int STREAM_BUFFER = 1 << 16;
    /** What {@link Feed#samples} says of a feed given whole with every batch. */
    private static final long WHOLE = -1;

    /** How one model input is fed, batch by batch. */
    private interface Feed extends AutoCloseable {
        /** Samples along the batch axis: 1 for a feed repeated for every sample, {@link #WHOLE} for one fed whole. */
        long samples();

        /** The input's array for samples {@code start .. start + rows - 1} (the streamed feed reads them in order). */
        HostArray rows(long start, int rows);

        default int bufferedBytes() {
            return 0;
        }

        @Override
        default void close() {
        }
    }

    /** An array streamed along its first axis. */
    private record Streamed(NpyArray array, DataType type) implements Feed {
        @Override
        public long samples() {
            return array.samples();
        }

        @Override
        public HostArray rows(long start, int rows) {
            return readRows(array, type, rows);
        }

        @Override
        public int bufferedBytes() {
            return array.bufferedBytes();
        }

        @Override
        public void close() {
            array.close();
        }
    }

    /** An array read whole: sliced along its batch axis, repeated when it holds one sample, or fed whole. */
    private record Held(HostArray array, int axis) implements Feed {
        @Override
        public long samples() {
            return axis == BatchAxes.NONE ? WHOLE : array.dim(axis);
        }

        @Override
        public HostArray rows(long start, int rows) {
            if (axis == BatchAxes.NONE) {
                return array;
            }
            return array.dim(axis) == 1 ? (rows == 1 ? array : array.repeat(axis, rows)) : array.slice(axis, start, rows);
        }
    }

    /** An input the file does not hold, filled with the constant of its value hint. */
    private record Constant(ValueShape input, int axis, InputHints hints, DataType type) implements Feed {
        @Override
        public long samples() {
            return axis == BatchAxes.NONE ? WHOLE : 1;
        }

        @Override
        public HostArray rows(long start, int rows) {
            return SyntheticDataset.constant(type, SyntheticDataset.shape(input, axis, hints, rows), hints.values().get(input.name()));
        }
    }

    private final String fileName;
    private final ZipFile zip;
    /** Model input name -> its feed, in the model's input order. */
    private final Map<String, Feed> feeds;
    private final NpyArray labels;
    /** The attention mask when it is not itself a model input. */
    private final NpyArray separateMask;
    private final long samples;
    private long samplesRead;

    private NumpyDataset(String fileName, ZipFile zip, Map<String, Feed> feeds, NpyArray labels, NpyArray separateMask, long samples) {
        this.fileName = fileName;
        this.zip = zip;
        this.feeds = feeds;
        this.labels = labels;
        this.separateMask = separateMask;
        this.samples = samples;
    }

    /** A .npy file: its one array feeds the model's only array-fed input (others need value hints). */
    static Dataset openNpy(Path file, List<ValueShape> modelInputs, InputHints hints) {
        String fileName = file.getFileName().toString();
        List<ValueShape> fromFile = modelInputs.stream().filter(i -> !hints.values().containsKey(i.name())).toList();
        if (fromFile.size() != 1) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "holds one array but the model has "
                    + modelInputs.size() + " inputs (" + ModelInputs.names(modelInputs) + "); put one array per input, named like it, in a .npz file");
        }
        NpyArray array = NpyArray.open(openFile(file), fileName, "file " + fileName);
        return assemble(fileName, null, modelInputs, hints, Map.of(fromFile.get(0).name(), array), null, null);
    }

    /** A .npy array read from {@code stream} (closed with the dataset) for a single-input model. */
    static NumpyDataset openNpy(InputStream stream, String fileName, ValueShape input) {
        NpyArray array = NpyArray.open(stream, fileName, "file " + fileName);
        return assemble(fileName, null, List.of(input), InputHints.NONE, Map.of(input.name(), array), null, null);
    }

    /**
     * A .npz archive. Each model input reads the array of the same name; a single-input model also accepts the
     * archive's only array (other than labels and attention_mask) whatever its name, e.g. {@code arr_0} from
     * {@code np.savez(f, x)}. An input without an array but with a value hint gets that constant.
     */
    static Dataset openNpz(Path file, List<ValueShape> modelInputs, InputHints hints) {
        String fileName = file.getFileName().toString();
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "file " + fileName, "is not a readable .npz (zip) archive: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + fileName, "cannot be read: " + e.getMessage(), e);
        }
        List<NpyArray> opened = new ArrayList<>();
        try {
            Map<String, ZipEntry> entries = new TreeMap<>();
            Enumeration<? extends ZipEntry> all = zip.entries();
            while (all.hasMoreElements()) {
                ZipEntry entry = all.nextElement();
                if (!entry.isDirectory() && entry.getName().endsWith(".npy")) {
                    entries.put(entry.getName().substring(0, entry.getName().length() - 4), entry);
                }
            }
            if (entries.isEmpty()) {
                throw new ModelPressException(ErrorCode.BAD_DATA, "file " + fileName, "is a zip archive without .npy arrays, not a .npz file");
            }
            Map<String, NpyArray> arrays = new LinkedHashMap<>();
            for (ValueShape input : modelInputs) {
                String arrayName = arrayFor(input, modelInputs.size(), entries, hints, fileName);
                if (arrayName != null) {
                    NpyArray array = open(zip, entries.get(arrayName), arrayName, fileName);
                    opened.add(array);
                    arrays.put(input.name(), array);
                }
            }
            NpyArray labels = null;
            if (entries.containsKey(LABELS)) {
                labels = open(zip, entries.get(LABELS), LABELS, fileName);
                opened.add(labels);
                if (labels.rank() == 0 || labels.sampleElements() != 1) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, "array 'labels' in " + fileName,
                            "must hold one class index per sample, shape [N] or [N,1], but has shape " + HostArray.shapeString(labels.shape()));
                }
            }
            NpyArray separateMask = null;
            if (entries.containsKey(ATTENTION_MASK) && !arrays.containsKey(ATTENTION_MASK)) {
                separateMask = open(zip, entries.get(ATTENTION_MASK), ATTENTION_MASK, fileName);
                opened.add(separateMask);
            }
            return assemble(fileName, zip, modelInputs, hints, arrays, labels, separateMask);
        } catch (RuntimeException e) {
            opened.forEach(NpyArray::close);
            closeQuietly(zip);
            throw e;
        }
    }

    /**
     * Checks each array against its input, decides how it is fed, and checks that the sample counts agree. Closes the
     * arrays if anything is wrong.
     */
    private static NumpyDataset assemble(String fileName, ZipFile zip, List<ValueShape> modelInputs, InputHints hints,
                                         Map<String, NpyArray> arrays, NpyArray labels, NpyArray separateMask) {
        Map<String, Integer> axes = BatchAxes.of(modelInputs);
        Map<String, Feed> feeds = new LinkedHashMap<>();
        try {
            for (ValueShape input : modelInputs) {
                int axis = axes.get(input.name());
                NpyArray array = arrays.get(input.name());
                DataType type = ModelInputs.elementType(input);
                if (array == null) {
                    feeds.put(input.name(), new Constant(input, axis, hints, type));
                    continue;
                }
                String source = zip == null ? "array in " + fileName : "array '" + array.name() + "' in " + fileName;
                ModelInputs.checkArray(input, axis, array.shape(), source);
                boolean streamed = axis == 0 && array.samples() != 1;
                feeds.put(input.name(), streamed ? new Streamed(array, type) : new Held(array.readAll(type), axis));
                if (!streamed) {
                    array.close();
                }
            }
            long samples = sampleCount(feeds, arrays, axes, labels, separateMask, fileName);
            return new NumpyDataset(fileName, zip, feeds, labels, separateMask, samples);
        } catch (RuntimeException e) {
            arrays.values().forEach(NpyArray::close);
            throw e;
        }
    }

    /**
     * The number of samples: what every array with a batch axis holds, except arrays of one sample, which are repeated.
     * Labels and a separate attention mask need one entry per sample.
     */
    private static long sampleCount(Map<String, Feed> feeds, Map<String, NpyArray> arrays, Map<String, Integer> axes,
                                    NpyArray labels, NpyArray separateMask, String fileName) {
        long samples = 1; // when every input is fed whole, each run is one sample
        String sizer = null;
        for (Map.Entry<String, Feed> feed : feeds.entrySet()) {
            long count = feed.getValue().samples();
            if (count == 0) {
                return 0; // an empty file: nothing to evaluate, which the caller reports
            }
            if (count > samples) {
                samples = count;
                sizer = feed.getKey();
            }
        }
        for (Map.Entry<String, Feed> feed : feeds.entrySet()) {
            long count = feed.getValue().samples();
            if (count != WHOLE && count != 1 && count != samples) {
                NpyArray other = arrays.get(feed.getKey());
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "array '" + other.name()
                        + "' has " + count + " samples (" + described(other, axes.get(feed.getKey())) + ") but array '"
                        + arrays.get(sizer).name() + "' has " + samples + " (" + described(arrays.get(sizer), axes.get(sizer))
                        + "); every array needs one entry per sample, or a single one to repeat for every sample");
            }
        }
        for (NpyArray extra : java.util.Arrays.asList(labels, separateMask)) {
            if (extra != null && extra.samples() != samples) {
                String than = sizer == null ? "the inputs hold " + samples : "array '" + arrays.get(sizer).name() + "' has " + samples;
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "array '" + extra.name()
                        + "' has " + extra.samples() + " samples (shape " + HostArray.shapeString(extra.shape()) + ") but " + than
                        + "; every array needs one entry per sample");
            }
        }
        return samples;
    }

    private static String described(NpyArray array, int axis) {
        return (axis == 0 ? "shape " : "axis " + axis + " of shape ") + HostArray.shapeString(array.shape());
    }

    /** The array feeding {@code input}, or null when a value hint fills it. */
    private static String arrayFor(ValueShape input, int inputCount, Map<String, ZipEntry> entries, InputHints hints, String fileName) {
        if (entries.containsKey(input.name())) {
            return input.name();
        }
        if (hints.values().containsKey(input.name())) {
            return null;
        }
        if (inputCount == 1) {
            List<String> candidates = entries.keySet().stream().filter(n -> !n.equals(LABELS) && !n.equals(ATTENTION_MASK)).toList();
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
        }
        throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "has no array for model input '" + input.name()
                + "' " + (input.rankKnown() ? ModelInputs.dims(input.dims()) + " " : "") + "(arrays in the file: "
                + String.join(", ", entries.keySet()) + "); name each array like the model input it feeds, or give the input "
                + "a constant with --value " + input.name() + "=V (recipe: the eval stage's value key)");
    }

    private static NpyArray open(ZipFile zip, ZipEntry entry, String arrayName, String fileName) {
        try {
            InputStream stream = new BufferedInputStream(zip.getInputStream(entry), STREAM_BUFFER);
            return NpyArray.open(stream, arrayName, "array '" + arrayName + "' in " + fileName);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "array '" + arrayName + "' in " + fileName,
                    "cannot be read from the archive: " + e.getMessage(), e);
        }
    }

    private static InputStream openFile(Path file) {
        try {
            return new BufferedInputStream(Files.newInputStream(file), STREAM_BUFFER);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + file.getFileName(), "cannot be read: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean hasLabels() {
        return labels != null;
    }

    @Override
    public Batch next(int maxRows) {
        int rows = (int) Math.min(maxRows, samples - samplesRead);
        if (rows <= 0) {
            return null;
        }
        Map<String, HostArray> inputs = new LinkedHashMap<>();
        for (Map.Entry<String, Feed> entry : feeds.entrySet()) {
            inputs.put(entry.getKey(), entry.getValue().rows(samplesRead, rows));
        }
        long[] labelValues = null;
        if (labels != null) {
            labelValues = new long[rows];
            for (int r = 0; r < rows; r++) {
                labelValues[r] = labels.readLabel();
            }
        }
        HostArray mask = separateMask != null ? readRows(separateMask, DataType.INT64, rows) : inputs.get(ATTENTION_MASK);
        samplesRead += rows;
        return new Batch(rows, inputs, labelValues, mask != null && mask.rank() == 2 && mask.dim(0) == rows ? mask : null);
    }

    private static HostArray readRows(NpyArray array, DataType type, int rows) {
        long[] sampleShape = array.sampleShape();
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = rows;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        HostArray out = HostArray.zeros(type, shape);
        for (int r = 0; r < rows; r++) {
            array.readSample(out, r * array.sampleElements());
        }
        return out;
    }

    /** Bytes held by the streaming readers themselves (one sample per array), for tests of constant memory. */
    long bufferedBytes() {
        long total = 0;
        for (Feed feed : feeds.values()) {
            total += feed.bufferedBytes();
        }
        return total + (labels == null ? 0 : labels.bufferedBytes()) + (separateMask == null ? 0 : separateMask.bufferedBytes());
    }

    @Override
    public void close() {
        feeds.values().forEach(Feed::close);
        if (labels != null) {
            labels.close();
        }
        if (separateMask != null) {
            separateMask.close();
        }
        closeQuietly(zip);
    }

    private static void closeQuietly(ZipFile zip) {
        if (zip == null) {
            return;
        }
        try {
            zip.close();
        } catch (IOException ignored) {
            // read-only
        }
    }

    @Override
    public String toString() {
        return fileName;
    }
}
