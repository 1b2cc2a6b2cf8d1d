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
 * inputs, plus optional {@code labels} and {@code attention_mask}). Every array is streamed sample by sample straight
 * from its file or zip entry (stored or deflated), so memory does not depend on the number of samples.
 */
final class NumpyDataset implements Dataset {
    static final String LABELS = "labels";
    static final String ATTENTION_MASK = "attention_mask";
    private static final int STREAM_BUFFER = 1 << 16;

    private final String fileName;
    private final ZipFile zip;
    /** Model input name -> (reader, element type wanted by the model). */
    private final Map<String, NpyArray> inputArrays;
    private final Map<String, DataType> inputTypes;
    private final NpyArray labels;
    /** The attention mask when it is not itself a model input. */
    private final NpyArray separateMask;
    private final long samples;
    private long samplesRead;

    private NumpyDataset(String fileName, ZipFile zip, Map<String, NpyArray> inputArrays, Map<String, DataType> inputTypes,
                         NpyArray labels, NpyArray separateMask) {
        this.fileName = fileName;
        this.zip = zip;
        this.inputArrays = inputArrays;
        this.inputTypes = inputTypes;
        this.labels = labels;
        this.separateMask = separateMask;
        this.samples = inputArrays.values().iterator().next().samples();
    }

    /** A .npy file: its one array feeds the model's only input. */
    static Dataset openNpy(Path file, List<ValueShape> modelInputs) {
        String fileName = file.getFileName().toString();
        if (modelInputs.size() != 1) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "holds one array but the model has "
                    + modelInputs.size() + " inputs (" + ModelInputs.names(modelInputs) + "); put one array per input, named like it, in a .npz file");
        }
        return openNpy(openFile(file), fileName, modelInputs.get(0));
    }

    /** A .npy array read from {@code stream} (closed with the dataset) for a single-input model. */
    static NumpyDataset openNpy(InputStream stream, String fileName, ValueShape input) {
        NpyArray array = NpyArray.open(stream, fileName, "file " + fileName);
        try {
            ModelInputs.checkRow(input, array.sampleShape(), "array in " + fileName);
            Map<String, NpyArray> arrays = new LinkedHashMap<>();
            arrays.put(input.name(), array);
            return new NumpyDataset(fileName, null, arrays, Map.of(input.name(), ModelInputs.elementType(input)), null, null);
        } catch (RuntimeException e) {
            array.close();
            throw e;
        }
    }

    /**
     * A .npz archive. Each model input reads the array of the same name; a single-input model also accepts the
     * archive's only array (other than labels and attention_mask) whatever its name, e.g. {@code arr_0} from
     * {@code np.savez(f, x)}.
     */
    static Dataset openNpz(Path file, List<ValueShape> modelInputs) {
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
            Map<String, NpyArray> inputArrays = new LinkedHashMap<>();
            Map<String, DataType> inputTypes = new LinkedHashMap<>();
            for (ValueShape input : modelInputs) {
                String arrayName = arrayFor(input, modelInputs.size(), entries, fileName);
                NpyArray array = open(zip, entries.get(arrayName), arrayName, fileName);
                opened.add(array);
                ModelInputs.checkRow(input, array.sampleShape(), "array '" + arrayName + "' in " + fileName);
                inputArrays.put(input.name(), array);
                inputTypes.put(input.name(), ModelInputs.elementType(input));
            }
            NpyArray labels = null;
            if (entries.containsKey(LABELS)) {
                labels = open(zip, entries.get(LABELS), LABELS, fileName);
                opened.add(labels);
                if (labels.sampleElements() != 1) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, "array 'labels' in " + fileName,
                            "must hold one class index per sample, shape [N] or [N,1], but has shape " + HostArray.shapeString(labels.shape()));
                }
            }
            NpyArray separateMask = null;
            if (entries.containsKey(ATTENTION_MASK) && !inputArrays.containsKey(ATTENTION_MASK)) {
                separateMask = open(zip, entries.get(ATTENTION_MASK), ATTENTION_MASK, fileName);
                opened.add(separateMask);
            }
            checkSameSampleCount(opened, fileName);
            return new NumpyDataset(fileName, zip, inputArrays, inputTypes, labels, separateMask);
        } catch (RuntimeException e) {
            opened.forEach(NpyArray::close);
            closeQuietly(zip);
            throw e;
        }
    }

    private static String arrayFor(ValueShape input, int inputCount, Map<String, ZipEntry> entries, String fileName) {
        if (entries.containsKey(input.name())) {
            return input.name();
        }
        if (inputCount == 1) {
            List<String> candidates = entries.keySet().stream().filter(n -> !n.equals(LABELS) && !n.equals(ATTENTION_MASK)).toList();
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
        }
        throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "has no array for model input '" + input.name()
                + "' (arrays in the file: " + String.join(", ", entries.keySet()) + "); name each array like the model input it feeds");
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

    private static void checkSameSampleCount(List<NpyArray> arrays, String fileName) {
        NpyArray first = arrays.get(0);
        for (NpyArray other : arrays) {
            if (other.samples() != first.samples()) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "array '" + other.name()
                        + "' has " + other.samples() + " samples (shape " + HostArray.shapeString(other.shape()) + ") but array '"
                        + first.name() + "' has " + first.samples() + " (shape "
                        + HostArray.shapeString(first.shape()) + "); every array needs one entry per sample");
            }
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
        for (Map.Entry<String, NpyArray> entry : inputArrays.entrySet()) {
            inputs.put(entry.getKey(), readRows(entry.getValue(), inputTypes.get(entry.getKey()), rows));
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
        return new Batch(rows, inputs, labelValues, mask != null && mask.rank() == 2 ? mask : null);
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

    /** Bytes held by the readers themselves (one sample per array), for tests of constant memory. */
    long bufferedBytes() {
        long total = 0;
        for (NpyArray array : inputArrays.values()) {
            total += array.bufferedBytes();
        }
        return total + (labels == null ? 0 : labels.bufferedBytes()) + (separateMask == null ? 0 : separateMask.bufferedBytes());
    }

    @Override
    public void close() {
        inputArrays.values().forEach(NpyArray::close);
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
