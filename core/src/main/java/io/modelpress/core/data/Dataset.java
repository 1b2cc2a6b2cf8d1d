package io.modelpress.core.data;

import io.modelpress.core.ModelPressException;

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

    /**
     * A failure to run a model on this data, explained for the user where the data can say more (synthetic inputs
     * name what they guessed and how to give what the model needs); otherwise the failure itself.
     */
    default ModelPressException explain(ModelPressException failure) {
        return failure;
    }

    @Override
    void close();
}
