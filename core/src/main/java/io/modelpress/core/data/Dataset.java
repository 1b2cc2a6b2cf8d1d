package io.modelpress.core.data;

/**
 * Samples read in batches, in file order, without holding the whole dataset in memory. Open one with
 * {@link Datasets#open}; close it to release its files and native resources.
 */
public interface Dataset extends AutoCloseable {
    /** True when every sample carries a class label. */
    boolean hasLabels();

    /**
     * The next batch of at most {@code maxRows} samples (fewer only at the end of the data), or null when no sample is
     * left.
     */
    Batch next(int maxRows);

    @Override
    void close();
}
