package io.modelpress.orchestrator;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.nio.file.Path;
import java.util.Map;

/**
 * The orchestrator with operator settings the default test profile leaves alone: a stall-after of seconds (the
 * TestWorker plays a worker that goes silent) and an upload directory of the test's own that keeps the uploaded
 * files, so a test can see where they went.
 */
public class OperationsProfile implements QuarkusTestProfile {
    static final String STALL_AFTER = "2s";
    /** New for every test JVM, so the orchestrator creates it at start-up. */
    static final Path UPLOADS = Path.of("target", "test-uploads-" + ProcessHandle.current().pid(), "orchestrator-uploads").toAbsolutePath();

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "modelpress.stage.stall-after", STALL_AFTER,
                UploadsDirectory.KEY, UPLOADS.toString(),
                "quarkus.http.body.delete-uploaded-files-on-end", "false");
    }
}
