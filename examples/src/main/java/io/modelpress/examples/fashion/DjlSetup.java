package io.modelpress.examples.fashion;

/** DJL settings that must be in place before DJL loads an engine. */
final class DjlSetup {
    private DjlSetup() {
    }

    /**
     * Keeps DJL from going online (by default it probes a cloud metadata address and may download natives). The
     * PyTorch natives come from the pytorch-native-cpu jar and are unpacked to DJL's cache ({@code ~/.djl.ai}, or
     * {@code DJL_CACHE_DIR} / {@code ENGINE_CACHE_DIR} when set). An explicit user setting wins.
     */
    static void offline() {
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }
}
