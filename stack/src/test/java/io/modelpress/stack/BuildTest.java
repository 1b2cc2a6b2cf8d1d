package io.modelpress.stack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

class BuildTest {
    @TempDir
    Path root;

    private Path file(String relative, Instant modified) throws IOException {
        Path file = root.resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, relative);
        Files.setLastModifiedTime(file, FileTime.from(modified));
        return file;
    }

    @Test
    void whatIsMissingOrOlderThanItsSourcesIsStale() throws IOException {
        Instant old = Instant.parse("2026-01-01T00:00:00Z");
        Instant built = old.plusSeconds(3600);
        file("pom.xml", old);
        for (String module : new String[] {"core", "pipeline", "devstack", "orchestrator", "quantize-worker", "eval-worker", "prune-worker", "distill-worker"}) {
            file(module + "/pom.xml", old);
            file(module + "/src/main/java/A.java", old);
        }
        assertThat(Build.staleModules(root)).containsExactly("devstack", "orchestrator", "quantize-worker", "eval-worker", "prune-worker", "distill-worker");

        file("devstack/target/modelpress-devstack-1.0.jar", built);
        file("devstack/target/modelpress-devstack-1.0-tests.jar", built);
        for (Service service : Service.values()) {
            file(service.module() + "/target/quarkus-app/quarkus-run.jar", built);
        }
        assertThat(Build.staleModules(root)).isEmpty();
        assertThat(Build.devstackJar(root)).contains(root.resolve("devstack/target/modelpress-devstack-1.0.jar"));

        // a change in a shared module makes every service stale, but not devstack; a change in one service only it
        file("pipeline/src/main/java/A.java", built.plusSeconds(1));
        assertThat(Build.staleModules(root)).containsExactly("orchestrator", "quantize-worker", "eval-worker", "prune-worker", "distill-worker");
        file("pipeline/src/main/java/A.java", old);
        // train (the distill stage type) is shared too
        file("train/src/main/java/A.java", built.plusSeconds(1));
        assertThat(Build.staleModules(root)).contains("distill-worker").doesNotContain("devstack");
        file("train/src/main/java/A.java", old);
        file("eval-worker/src/main/resources/application.properties", built.plusSeconds(1));
        assertThat(Build.staleModules(root)).containsExactly("eval-worker");
        file("pom.xml", built.plusSeconds(1));
        assertThat(Build.staleModules(root)).containsExactly("devstack", "orchestrator", "quantize-worker", "eval-worker", "prune-worker", "distill-worker");
    }
}
