package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Images from IDX files (MNIST, Fashion-MNIST), with the labels file found beside them by name. Pixels become floats
 * in [0, 1] (raw bytes for a uint8 input), shaped to the model's single input: {@code [N,1,28,28]},
 * {@code [N,28,28,1]}, {@code [N,28,28]} and {@code [N,784]} all work for 28x28 images.
 */
final class IdxDataset implements Dataset {
    private final IdxFile images;
    private final IdxFile labels;
    private final String inputName;
    private final DataType type;
    private final long[] sampleShape;
    private final byte[] record;
    private long samplesRead;

    private IdxDataset(IdxFile images, IdxFile labels, String inputName, DataType type, long[] sampleShape) {
        this.images = images;
        this.labels = labels;
        this.inputName = inputName;
        this.type = type;
        this.sampleShape = sampleShape;
        this.record = new byte[images.recordSize()];
    }

    /**
     * @param path  an images file ({@code *-images-idx3-ubyte[.gz]} or {@code *-images.idx3-ubyte}), or a folder that
     *              holds {@code train-*} and/or {@code t10k-*} files
     * @param split which files of a folder: {@code train} or {@code test} ({@code t10k-*})
     */
    static Dataset open(Path path, List<ValueShape> modelInputs, String split) {
        Path imagesFile = Files.isDirectory(path) ? findInFolder(path, split) : path;
        String name = imagesFile.getFileName().toString();
        if (name.contains("labels") || name.contains("idx1")) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "file " + name,
                    "is an IDX labels file; give the images file (…-images-idx3-ubyte[.gz]) and the labels are found beside it");
        }
        if (modelInputs.size() != 1) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + name, "holds images for one input but the model has "
                    + modelInputs.size() + " inputs (" + ModelInputs.names(modelInputs) + ")");
        }
        ValueShape input = modelInputs.get(0);
        DataType type = ModelInputs.elementType(input);
        IdxFile images = IdxFile.open(imagesFile);
        IdxFile labels = null;
        try {
            long[] sampleShape = fitToInput(images.recordShape(), input, name);
            Path labelsFile = labelsBeside(imagesFile);
            if (labelsFile != null) {
                labels = IdxFile.open(labelsFile);
                String labelsName = labelsFile.getFileName().toString();
                if (labels.recordSize() != 1) {
                    throw new ModelPressException(ErrorCode.BAD_DATA, "file " + labelsName,
                            "is not an IDX labels file: its records have " + labels.recordSize() + " bytes, not 1");
                }
                if (labels.count() != images.count()) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + labelsName, "has " + labels.count()
                            + " labels but " + name + " has " + images.count() + " images");
                }
            }
            return new IdxDataset(images, labels, input.name(), type, sampleShape);
        } catch (RuntimeException e) {
            images.close();
            if (labels != null) {
                labels.close();
            }
            throw e;
        }
    }

    private static Path findInFolder(Path folder, String split) {
        String prefix = split.equals("train") ? "train-images" : "t10k-images";
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(f -> {
                String n = f.getFileName().toString();
                return n.startsWith(prefix) && n.matches(".*idx3-ubyte(\\.gz)?") && Files.isRegularFile(f);
            }).sorted().findFirst().orElseThrow(() -> new ModelPressException(ErrorCode.BAD_ARGUMENT, "folder " + folder,
                    "has no " + prefix + "-idx3-ubyte[.gz] file (the '" + split + "' split of an MNIST-style dataset)"));
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "folder " + folder, "cannot be listed: " + e.getMessage(), e);
        }
    }

    /** {@code x-images-idx3-ubyte.gz} -> {@code x-labels-idx1-ubyte.gz} (with or without .gz), or null. */
    static Path labelsBeside(Path imagesFile) {
        String name = imagesFile.getFileName().toString();
        if (!name.contains("images") || !name.contains("idx3")) {
            return null;
        }
        String base = name.replace("images", "labels").replace("idx3", "idx1");
        String plain = base.endsWith(".gz") ? base.substring(0, base.length() - 3) : base;
        for (String candidate : List.of(base, plain, plain + ".gz")) {
            Path file = imagesFile.resolveSibling(candidate);
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        return null;
    }

    /**
     * The shape of one sample as the model input wants it. Fixed input dimensions are taken as declared; unknown ones
     * are filled from the image: [H,W] for rank 2, [1,H,W] or [H,W,1] (whichever side is fixed to 1, channels first by
     * default) for rank 3, [H*W] for rank 1.
     */
    static long[] fitToInput(int[] recordShape, ValueShape input, String fileName) {
        long recordSize = 1;
        for (int d : recordShape) {
            recordSize *= d;
        }
        if (!input.rankKnown()) {
            return toLongs(recordShape);
        }
        List<ValueShape.Dim> dims = input.dims().subList(Math.min(1, input.dims().size()), input.dims().size());
        long[] shape = new long[dims.size()];
        if (dims.size() == recordShape.length) {
            for (int i = 0; i < shape.length; i++) {
                shape[i] = recordShape[i];
            }
        } else if (dims.size() == recordShape.length + 1) {
            boolean channelsLast = !isOne(dims.get(0)) && isOne(dims.get(dims.size() - 1));
            for (int i = 0; i < recordShape.length; i++) {
                shape[channelsLast ? i : i + 1] = recordShape[i];
            }
            shape[channelsLast ? shape.length - 1 : 0] = 1;
        } else if (dims.size() == 1) {
            shape[0] = recordSize;
        } else {
            throw mismatch(recordShape, input, fileName);
        }
        for (int i = 0; i < shape.length; i++) {
            if (dims.get(i).isFixed() && dims.get(i).value() != shape[i]) {
                throw mismatch(recordShape, input, fileName);
            }
        }
        return shape;
    }

    private static boolean isOne(ValueShape.Dim dim) {
        return dim.isFixed() && dim.value() == 1;
    }

    private static ModelPressException mismatch(int[] recordShape, ValueShape input, String fileName) {
        return new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "has images of shape "
                + HostArray.shapeString(toLongs(recordShape)) + " that do not fit model input '" + input.name() + "' of shape "
                + ModelInputs.dims(input.dims()));
    }

    private static long[] toLongs(int[] values) {
        long[] out = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    @Override
    public boolean hasLabels() {
        return labels != null;
    }

    @Override
    public Batch next(int maxRows) {
        int rows = (int) Math.min(maxRows, images.count() - samplesRead);
        if (rows <= 0) {
            return null;
        }
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = rows;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        HostArray pixels = HostArray.zeros(type, shape);
        long[] labelValues = labels == null ? null : new long[rows];
        byte[] label = new byte[1];
        for (int r = 0; r < rows; r++) {
            images.next(record);
            int offset = r * record.length;
            for (int i = 0; i < record.length; i++) {
                int value = record[i] & 0xff;
                // uint8 inputs take the raw pixel; every other type gets the usual [0, 1] scaling
                pixels.set(offset + i, type == DataType.UINT8 ? value : value / 255.0);
            }
            if (labels != null) {
                labels.next(label);
                labelValues[r] = label[0] & 0xff;
            }
        }
        samplesRead += rows;
        return new Batch(rows, Map.of(inputName, pixels), labelValues, null);
    }

    @Override
    public void close() {
        images.close();
        if (labels != null) {
            labels.close();
        }
    }
}
