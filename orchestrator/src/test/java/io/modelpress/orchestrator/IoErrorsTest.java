package io.modelpress.orchestrator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Local I/O errors say which path and why; an upload directory is made private and proved writable. */
class IoErrorsTest {
    @TempDir
    Path dir;

    @Test
    void fileSystemErrorsNameThePathAndTheReason() {
        Path missing = dir.resolve("missing.txt");
        NoSuchFileException noSuchFile = catchThrowableOfType(NoSuchFileException.class, () -> Files.readString(missing));

        assertThat(IoErrors.describe(noSuchFile)).isEqualTo(missing + ": no such file or directory");
        assertThat(IoErrors.describe(new AccessDeniedException("/srv/uploads"))).isEqualTo("/srv/uploads: permission denied");
        assertThat(IoErrors.describe(new AccessDeniedException("/a", "/b", "read-only file system"))).isEqualTo("/a -> /b: read-only file system");
        assertThat(IoErrors.describe(new IOException("disk on fire"))).isEqualTo("IOException: disk on fire");
    }

    @Test
    void aWrappedIoErrorIsFoundAmongTheCauses() {
        IOException io = new AccessDeniedException("/srv/uploads/x");
        RuntimeException wrapped = new RuntimeException(new IllegalStateException(io));

        assertThat(IoErrors.find(wrapped)).containsSame(io);
        assertThat(IoErrors.find(new UncheckedIOException(io))).containsSame(io);
        assertThat(IoErrors.find(new IllegalStateException("no I/O here"))).isEmpty();
    }

    @Test
    void anUploadDirectoryIsCreatedPrivateAndChecked() throws IOException {
        Path uploads = dir.resolve("modelpress-someone").resolve("orchestrator-uploads");

        assertThat(UploadsDirectory.problem(uploads)).isEmpty();

        assertThat(uploads).isDirectory().isEmptyDirectory();
        if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(uploads))).isEqualTo("rwx------");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(uploads.getParent()))).isEqualTo("rwx------");
        }
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertThat(UploadsDirectory.problem(file)).contains(file + ": exists and is not a directory");
        Path below = file.resolve("uploads");
        assertThat(UploadsDirectory.problem(below)).hasValueSatisfying(problem -> assertThat(problem).startsWith(below.toString()));
    }
}
