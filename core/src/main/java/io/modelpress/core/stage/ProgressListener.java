package io.modelpress.core.stage;

/** Where a long stage reports how far it got (0..1) and what it is doing. Must be cheap and thread-safe. */
@FunctionalInterface
public interface ProgressListener {
    void progress(double fraction, String message);

    ProgressListener NONE = (fraction, message) -> {
    };
}
