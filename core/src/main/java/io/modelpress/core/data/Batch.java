package io.modelpress.core.data;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A batch of samples ready for a model: one array per model input (first dimension = {@code size}), the samples'
 * class labels when the data has them, and the attention mask {@code [size, tokens]} when the data has one (text data,
 * or an {@code attention_mask} array), used to pool token outputs into sentence vectors.
 *
 * @param inputs        model input name -> array, in the model's input order
 * @param labels        one class index per sample, or null
 * @param attentionMask 1 for real tokens and 0 for padding, or null
 */
public record Batch(int size, Map<String, HostArray> inputs, long[] labels, HostArray attentionMask) {
    public Batch {
        inputs = Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
    }
}
