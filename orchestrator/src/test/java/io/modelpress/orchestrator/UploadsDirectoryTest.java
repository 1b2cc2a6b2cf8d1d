package io.modelpress.orchestrator;

import io.modelpress.pipeline.testing.DevStackResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;

/**
 * Models uploaded to the API stream to the configured upload directory, which the orchestrator makes at start-up
 * (private to its user); when it cannot be used, the upload fails with an error that names the directory and the
 * setting, not with "internal error: RuntimeException".
 */
@QuarkusTest
@TestProfile(OperationsProfile.class)
@WithTestResource(DevStackResource.class)
class UploadsDirectoryTest {
    private static final Path UPLOADS = OperationsProfile.UPLOADS;

    private static int upload() {
        return given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("recipe_name", "int8-dynamic")
                .post("/api/runs").then().extract().statusCode();
    }

    private static long files(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.count();
        }
    }

    @Test
    void uploadsGoToTheConfiguredDirectoryWhichIsMadePrivateAtStartUp() throws IOException {
        assertThat(UPLOADS).as("made at start-up").isDirectory();
        if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(UPLOADS))).isEqualTo("rwx------");
        }
        long before = files(UPLOADS);

        assertThat(upload()).isEqualTo(201);

        // this profile keeps uploaded files, so where they went can be seen
        assertThat(files(UPLOADS)).isGreaterThan(before);
    }

    @Test
    void anUnusableUploadDirectoryIsNamedInTheError() throws IOException {
        Path moved = UPLOADS.resolveSibling("moved-away");
        Files.move(UPLOADS, moved);
        Files.writeString(UPLOADS, "a file where the upload directory should be");
        try {
            given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                    .multiPart("recipe_name", "int8-dynamic")
                    .post("/api/runs").then().statusCode(500)
                    .body("code", equalTo("IO_ERROR"))
                    .body("message", containsString(UPLOADS + ": exists and is not a directory"))
                    .body("message", containsString("quarkus.http.body.uploads-directory"))
                    .body("message", containsString("QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY"))
                    .body("message", not(containsString("RuntimeException")));
        } finally {
            Files.delete(UPLOADS);
            Files.move(moved, UPLOADS);
        }
        assertThat(upload()).as("usable again").isEqualTo(201);
    }
}
