package io.modelpress.stack;

import io.modelpress.devstack.ChildJvm.Lifetime;
import io.modelpress.devstack.Endpoints;
import io.modelpress.devstack.StackDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class StackEnvironmentTest {
    private static final Endpoints ENDPOINTS = new Endpoints("127.0.0.1:19092", "http://127.0.0.1:19000", "key", "secret", "bucket");

    @TempDir
    Path dir;

    @Test
    void theOrchestratorKeepsUploadsInTheStacksOwnFolder() {
        Stack stack = new Stack(dir, new StackDirectory(dir.resolve("stack")), Stack.Ports.DEFAULT, Lifetime.TIED_TO_THIS_JVM);

        Map<String, String> orchestrator = stack.environment(Service.ORCHESTRATOR, ENDPOINTS);

        assertThat(orchestrator).containsEntry("QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY", dir.resolve("stack").resolve("uploads").toString())
                .containsEntry("QUARKUS_HTTP_PORT", "8080")
                .containsEntry("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
                .containsEntry("MODELPRESS_S3_BUCKET", "bucket");
        assertThat(stack.environment(Service.QUANTIZE_WORKER, ENDPOINTS)).doesNotContainKey("QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY")
                .containsEntry("QUARKUS_HTTP_PORT", "8082");
    }

    @Test
    void extraSettingsComeLastAndWin() {
        Stack stack = new Stack(dir, new StackDirectory(dir), Stack.Ports.DEFAULT, Lifetime.TIED_TO_THIS_JVM)
                .withEnv(Service.ORCHESTRATOR, Map.of("QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY", "/elsewhere"));

        assertThat(stack.environment(Service.ORCHESTRATOR, ENDPOINTS)).containsEntry("QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY", "/elsewhere");
    }

    @Test
    void theUploadFolderIsInTheStackDirectory() {
        StackDirectory directory = new StackDirectory(dir.resolve("s"));

        assertThat(directory.uploads()).isEqualTo(dir.resolve("s").resolve("uploads"));
    }
}
