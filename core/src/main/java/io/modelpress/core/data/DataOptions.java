package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.nio.file.Path;

/**
 * How to read a dataset.
 *
 * @param tokenizer a HuggingFace {@code tokenizer.json}; required for text (JSONL) data, ignored otherwise
 * @param maxTokens text is truncated to this many tokens, special tokens included (default 128)
 * @param split     for a folder of IDX files: {@code test} (the {@code t10k-*} files, default) or {@code train}
 * @param limit     read at most this many samples (default: all)
 * @param hints     shapes and constant values for inputs: they shape synthetic inputs (no data file) and fill inputs a
 *                  .npz/.npy file does not hold (see {@link InputHints}); never null
 */
public record DataOptions(Path tokenizer, int maxTokens, String split, long limit, InputHints hints) {
    public static final DataOptions DEFAULT = new DataOptions(null, 128, "test", Long.MAX_VALUE, InputHints.NONE);

    public DataOptions(Path tokenizer, int maxTokens, String split, long limit) {
        this(tokenizer, maxTokens, split, limit, InputHints.NONE);
    }

    public DataOptions {
        hints = hints == null ? InputHints.NONE : hints;
        if (maxTokens < 2) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "max tokens", "must be at least 2, not " + maxTokens);
        }
        if (!"test".equals(split) && !"train".equals(split)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "split", "must be 'train' or 'test', not '" + split + "'");
        }
        if (limit < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "sample limit", "must be at least 1, not " + limit);
        }
    }

    public DataOptions withTokenizer(Path value) {
        return new DataOptions(value, maxTokens, split, limit, hints);
    }

    public DataOptions withMaxTokens(int value) {
        return new DataOptions(tokenizer, value, split, limit, hints);
    }

    public DataOptions withSplit(String value) {
        return new DataOptions(tokenizer, maxTokens, value, limit, hints);
    }

    public DataOptions withLimit(long value) {
        return new DataOptions(tokenizer, maxTokens, split, value, hints);
    }

    public DataOptions withHints(InputHints value) {
        return new DataOptions(tokenizer, maxTokens, split, limit, value);
    }
}
