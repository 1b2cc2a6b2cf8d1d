package io.modelpress.orchestrator;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.Set;

/**
 * The directory multipart uploads stream to ({@value #KEY}). Its default is private to the user that runs the
 * orchestrator ({@code <java.io.tmpdir>/modelpress-<user>/orchestrator-uploads}), so two users' orchestrators on one
 * machine never share it; the local stack gives its own orchestrator {@code <stack dir>/uploads}. At start-up the
 * directory is created if missing, made owner-only, and a file is written in it, so a directory that cannot be used
 * is named in the log at once, not only by the first failed upload (whose error names it too). The uploaded files
 * themselves are owner-only wherever they land (Java's temporary files).
 */
@ApplicationScoped
public class UploadsDirectory {
    static final String KEY = "quarkus.http.body.uploads-directory";
    static final String ENV = "QUARKUS_HTTP_BODY_UPLOADS_DIRECTORY";
    private static final Logger LOG = Logger.getLogger(UploadsDirectory.class);
    private static final boolean POSIX = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    @ConfigProperty(name = KEY)
    String configured;

    Path path() {
        return Path.of(configured).toAbsolutePath().normalize();
    }

    void onStart(@Observes StartupEvent event) {
        Path directory = path();
        problem(directory).ifPresentOrElse(
                problem -> LOG.errorf("Uploads to POST /api/runs will fail: %s. Set %s (environment variable %s) to a "
                        + "directory this user can write", problem, KEY, ENV),
                () -> LOG.debugf("Uploads go to %s", directory));
    }

    /**
     * What is wrong with a directory as the upload directory; empty when a file can be made there. Creates it if
     * missing, and makes it owner-only when this user owns it (it holds nothing but this orchestrator's uploads).
     */
    static Optional<String> problem(Path directory) {
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            return Optional.of(directory + ": exists and is not a directory");
        }
        try {
            createPrivately(directory);
            if (POSIX && Files.getOwner(directory).getName().equals(System.getProperty("user.name"))) {
                Files.setPosixFilePermissions(directory, OWNER_ONLY);
            }
            Files.delete(Files.createTempFile(directory, "probe-", ".tmp"));
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of(IoErrors.describe(e));
        }
    }

    /** The note an error message adds when the path that failed lies in the upload directory. */
    String explain(String failedPath) {
        return failedPath != null && Path.of(failedPath).toAbsolutePath().normalize().startsWith(path())
                ? " (the orchestrator's upload directory: set " + KEY + " or " + ENV + ")" : "";
    }

    /** Creates the missing folders of a path, readable by their owner only where the file system has POSIX permissions. */
    private static void createPrivately(Path directory) throws IOException {
        Deque<Path> missing = new ArrayDeque<>();
        for (Path p = directory; p != null && !Files.exists(p); p = p.getParent()) {
            missing.push(p);
        }
        for (Path p : missing) {
            try {
                if (POSIX) {
                    Files.createDirectory(p, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                } else {
                    Files.createDirectory(p);
                }
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(p)) {
                    throw e;
                }
                // another process made it meanwhile
            }
        }
    }
}
