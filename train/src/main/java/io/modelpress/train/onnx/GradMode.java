package io.modelpress.train.onnx;

import ai.djl.pytorch.jni.JniUtils;

import java.util.function.Supplier;

/**
 * PyTorch's per-thread switch for recording the autograd graph. DJL turns it on only inside a gradient collector,
 * and only on the thread that loaded the engine is it off by default: code that must not record (inference, the
 * optimizer's in-place updates) says so explicitly.
 */
final class GradMode {
    private GradMode() {
    }

    static <T> T disabled(Supplier<T> body) {
        boolean was = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(was);
        }
    }

    static void disabled(Runnable body) {
        disabled(() -> {
            body.run();
            return null;
        });
    }
}
