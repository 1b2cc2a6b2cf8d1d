package io.modelpress.core.eval;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

/**
 * How ONNX Runtime sessions are set up. Nodes always execute sequentially (one inter-op thread), so timings depend only
 * on {@code intraOpThreads}.
 *
 * @param intraOpThreads threads ONNX Runtime uses inside one operator (default: available processors)
 * @param optimization   graph optimisation level (default: all)
 */
public record SessionSettings(int intraOpThreads, OptLevel optimization) {
    public static final SessionSettings DEFAULT = new SessionSettings(Runtime.getRuntime().availableProcessors(), OptLevel.ALL_OPT);

    public SessionSettings {
        if (intraOpThreads < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "threads", "must be at least 1, not " + intraOpThreads);
        }
        if (optimization == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "optimization", "must be given");
        }
    }

    /**
     * ONNX Runtime session options for these settings; the caller closes them. ONNX Runtime's own log is limited to
     * fatal messages: its errors reach the user once, as the exception a failed load or run throws, never as extra
     * (colour-coded) lines on stderr.
     */
    public OrtSession.SessionOptions sessionOptions() throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            options.setIntraOpNumThreads(intraOpThreads);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(optimization);
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    public SessionSettings withThreads(int threads) {
        return new SessionSettings(threads, optimization);
    }

    public SessionSettings withOptimization(OptLevel level) {
        return new SessionSettings(intraOpThreads, level);
    }
}
