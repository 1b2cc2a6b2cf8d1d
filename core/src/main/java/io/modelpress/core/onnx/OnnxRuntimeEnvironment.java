package io.modelpress.core.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The ONNX Runtime environment every ModelPress session is made in. Made here first, its log level is fatal-only:
 * sessions that set no level of their own inherit it, so ONNX Runtime's warnings and errors never reach stderr as
 * (colour-coded) log lines; its failures reach the user once, as the exception a failed load or run throws.
 */
public final class OnnxRuntimeEnvironment {
    private OnnxRuntimeEnvironment() {
    }

    /** The process's ONNX Runtime environment (created quiet if nothing has created it yet). */
    public static synchronized OrtEnvironment get() {
        Logger ortLog = Logger.getLogger(OrtEnvironment.class.getName());
        Level before = ortLog.getLevel();
        // an environment something else made first keeps its level; ONNX Runtime's Java warning about that is no news
        ortLog.setLevel(Level.SEVERE);
        try {
            return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, OrtEnvironment.DEFAULT_NAME);
        } finally {
            ortLog.setLevel(before);
        }
    }
}
