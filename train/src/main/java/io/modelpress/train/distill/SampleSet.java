package io.modelpress.train.distill;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.Batch;
import io.modelpress.core.data.BatchAxes;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.Dataset;
import io.modelpress.core.data.Datasets;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.onnx.ValueShape;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The samples of a data file, read by core's dataset readers (npz/npy, IDX images, JSON Lines text) and held in
 * memory as one batch, so that training can draw shuffled batches from them epoch after epoch. Text is padded to its
 * longest sample once; a batch of text can be cut to its own longest sample ({@link #tokens}), which is what makes
 * batches of similar lengths cheap.
 */
final class SampleSet {
    private final Map<String, HostArray> inputs;
    private final Map<String, Boolean> batched;
    private final long[] labels;
    private final HostArray attentionMask;
    private final int size;
    /** Each sample's length in tokens, for data with an attention mask, else null. */
    private final int[] lengths;

    private SampleSet(Map<String, HostArray> inputs, Map<String, Boolean> batched, long[] labels, HostArray attentionMask, int size) {
        this.inputs = inputs;
        this.batched = batched;
        this.labels = labels;
        this.attentionMask = attentionMask;
        this.size = size;
        this.lengths = attentionMask == null ? null : lengths(attentionMask);
    }

    /** Each sample's length in tokens: its last unmasked token (at least 1). */
    private static int[] lengths(HostArray mask) {
        int samples = (int) mask.dim(0);
        int padded = (int) mask.dim(1);
        int[] lengths = new int[samples];
        for (int row = 0; row < samples; row++) {
            int length = padded;
            while (length > 1 && mask.getLong(row * padded + length - 1) == 0) {
                length--;
            }
            lengths[row] = length;
        }
        return lengths;
    }

    /**
     * Reads at most {@code limit} samples of {@code data} for a model with these inputs.
     *
     * @throws ModelPressException DATA_MISMATCH for inputs batched along another axis than the first, BAD_DATA for
     *                             data without samples, and whatever the dataset readers report
     */
    static SampleSet read(Path data, List<ValueShape> modelInputs, DataOptions options, int limit) {
        Map<String, Integer> axes = BatchAxes.of(modelInputs);
        axes.forEach((input, axis) -> {
            if (axis != 0 && axis != BatchAxes.NONE) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "input '" + input + "'", "carries its samples along axis "
                        + axis + "; distillation batches inputs along their first axis");
            }
        });
        Batch all;
        try (Dataset dataset = Datasets.open(data, modelInputs, options.withLimit(limit))) {
            all = dataset.next(limit);
        }
        if (all == null || all.size() == 0) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "data " + data, "holds no samples");
        }
        Map<String, Boolean> batched = new LinkedHashMap<>();
        axes.forEach((input, axis) -> batched.put(input, axis == 0));
        return new SampleSet(all.inputs(), batched, all.labels(), all.attentionMask(), all.size());
    }

    int size() {
        return size;
    }

    boolean hasLabels() {
        return labels != null;
    }

    /**
     * @throws ModelPressException DATA_MISMATCH for a label that is not one of the output's classes
     */
    void checkLabels(long classes, String output) {
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "label of sample " + i, "is " + labels[i] + ", not one of the "
                        + classes + " classes of output '" + output + "'");
            }
        }
    }

    /** The model inputs of the given samples (inputs without a batch axis whole). */
    Map<String, HostArray> inputs(int[] rows) {
        return inputs(rows, paddedTokens());
    }

    /**
     * The model inputs of the given samples, the token inputs (those shaped like the attention mask) cut to their first
     * {@code tokens} tokens.
     */
    Map<String, HostArray> inputs(int[] rows, int tokens) {
        Map<String, HostArray> out = new LinkedHashMap<>();
        inputs.forEach((name, array) -> out.put(name, Boolean.FALSE.equals(batched.get(name)) ? array
                : isTokenInput(array) ? rows(array, rows, tokens) : rows(array, rows)));
        return out;
    }

    /** The token length every text sample is padded to, or -1 for data without an attention mask. */
    int paddedTokens() {
        return attentionMask == null ? -1 : (int) attentionMask.dim(1);
    }

    /** The longest of the given samples in tokens (its last unmasked token), or -1 for data without an attention mask. */
    int tokens(int[] rows) {
        if (lengths == null) {
            return -1;
        }
        int longest = 1;
        for (int row : rows) {
            longest = Math.max(longest, lengths[row]);
        }
        return longest;
    }

    /** One sample's length in tokens, or -1 for data without an attention mask. */
    int tokens(int row) {
        return lengths == null ? -1 : lengths[row];
    }

    /** The names of the inputs that carry tokens: batched and shaped like the attention mask. */
    List<String> tokenInputs() {
        return inputs.entrySet().stream().filter(e -> !Boolean.FALSE.equals(batched.get(e.getKey())) && isTokenInput(e.getValue()))
                .map(Map.Entry::getKey).toList();
    }

    private boolean isTokenInput(HostArray array) {
        return attentionMask != null && java.util.Arrays.equals(array.shape(), attentionMask.shape());
    }

    /** The class labels of the given samples, or null. */
    long[] labels(int[] rows) {
        if (labels == null) {
            return null;
        }
        long[] out = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = labels[rows[i]];
        }
        return out;
    }

    /** The attention mask [rows, tokens] of the given samples, or null. */
    HostArray attentionMask(int[] rows) {
        return attentionMask(rows, paddedTokens());
    }

    /** The attention mask of the given samples cut to their first {@code tokens} tokens, or null. */
    HostArray attentionMask(int[] rows, int tokens) {
        return attentionMask == null ? null : rows(attentionMask, rows, tokens);
    }

    /** Samples {@code rows} of an array batched along axis 0, in that order (a copy). */
    static HostArray rows(HostArray array, int[] rows) {
        return rows(array, rows, array.shape().length > 1 ? (int) array.dim(1) : 1);
    }

    /**
     * Samples {@code rows} of an array batched along axis 0, in that order, with axis 1 cut to its first {@code keep}
     * entries (a copy).
     */
    static HostArray rows(HostArray array, int[] rows, int keep) {
        long[] shape = array.shape();
        int perSample = shape[0] == 0 ? 0 : (int) (array.elementCount() / shape[0]);
        int kept = shape.length > 1 && shape[1] > 0 ? (int) ((long) perSample / shape[1] * keep) : perSample;
        shape[0] = rows.length;
        if (shape.length > 1) {
            shape[1] = keep;
        }
        HostArray out = HostArray.zeros(array.type(), shape);
        boolean integral = !array.type().isFloatingPoint();
        for (int r = 0; r < rows.length; r++) {
            int from = rows[r] * perSample;
            int to = r * kept;
            for (int k = 0; k < kept; k++) {
                if (integral) {
                    out.setLong(to + k, array.getLong(from + k));
                } else {
                    out.set(to + k, array.get(from + k));
                }
            }
        }
        return out;
    }
}
