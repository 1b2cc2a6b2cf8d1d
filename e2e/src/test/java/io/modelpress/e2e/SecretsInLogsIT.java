package io.modelpress.e2e;

import io.modelpress.pipeline.events.RunState;
import io.modelpress.stack.ApiClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Credentials stay out of the logs, and the API's doors hold on the real stack: after a run through the API (with the
 * stack's token) and a refused call without it, no service's log holds the S3 secret key or the API token.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SecretsInLogsIT {
    private final E2eStack e2e = E2eStack.shared();

    @TempDir
    Path dir;

    @Test
    void noServiceLogsTheS3SecretOrTheApiToken() throws Exception {
        Path model = Files.write(dir.resolve("secrets.onnx"), E2eStack.mlp(32, 64, 8, 21));
        Path recipe = Files.writeString(dir.resolve("recipe.yaml"), E2eStack.INT8_EVAL_RECIPE);
        RunState submitted = e2e.api.submit(new ApiClient.Submission(model, recipe, null, List.of(), null, E2eStack.uniqueName("secrets")));
        RunState run = e2e.awaitEnd(submitted.runId());
        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);

        // without the token the API refuses, and says how to get in
        assertThatThrownBy(() -> new ApiClient(e2e.stack.apiUrl()).runs()).hasMessageContaining("HTTP 401")
                .hasMessageContaining("MODELPRESS_API_TOKEN");
        assertThatThrownBy(() -> new ApiClient(e2e.stack.apiUrl(), "wrong-token").run(run.runId())).hasMessageContaining("HTTP 401");

        String secret = e2e.endpoints.s3SecretKey();
        String token = e2e.stack.apiToken();
        assertThat(secret).hasSizeGreaterThan(8);
        assertThat(token).hasSize(64);
        List<Path> logs;
        try (Stream<Path> files = Files.walk(e2e.stack.directory().logs())) {
            logs = files.filter(Files::isRegularFile).toList();
        }
        assertThat(logs).as("service logs").isNotEmpty();
        for (Path log : logs) {
            String text = Files.readString(log, StandardCharsets.ISO_8859_1);
            assertThat(text).as("log %s", log).doesNotContain(secret).doesNotContain(token);
        }
    }
}
