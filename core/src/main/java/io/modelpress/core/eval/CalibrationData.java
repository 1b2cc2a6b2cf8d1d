package io.modelpress.core.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;

import java.util.Map;

/**
 * Sample inputs for calibration, streamed batch by batch so that memory does not grow with the data set. The
 * tensors handed to the consumer belong to the source and are closed after the consumer returns.
 */
public interface CalibrationData {
    @FunctionalInterface
    interface BatchConsumer {
        void accept(Map<String, OnnxTensor> inputs, int batchSize) throws OrtException;
    }

    /** Calls the consumer with batches holding at most {@code maxSamples} samples in all. */
    void forEachBatch(int maxSamples, BatchConsumer consumer);

    /** True when there is no data (passes then fall back to data-free behaviour, or fail if they need data). */
    default boolean isEmpty() {
        return false;
    }

    CalibrationData NONE = new CalibrationData() {
        @Override
        public void forEachBatch(int maxSamples, BatchConsumer consumer) {
        }

        @Override
        public boolean isEmpty() {
            return true;
        }
    };
}
