package io.modelpress.cli;

import picocli.CommandLine.Option;

/** {@code --threads}, for the commands that run models in ONNX Runtime (a picocli mixin). */
final class ThreadsOption {
    @Option(names = "--threads", paramLabel = "T", description = "ONNX Runtime intra-op threads (default: all cores)")
    Integer threads;

    /** The threads given, else one per core. */
    int count() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }
}
