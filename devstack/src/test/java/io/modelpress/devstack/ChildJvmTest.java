package io.modelpress.devstack;

import static org.assertj.core.api.Assertions.assertThat;

import io.modelpress.devstack.ChildJvm.Lifetime;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The supervisor on its own: pid files, tags, logs, stopping and killing, with a small child JVM. */
class ChildJvmTest {

    @TempDir
    Path temp;

    private final List<ChildJvm> started = new ArrayList<>();

    @AfterEach
    void stopWhatRuns() {
        ChildJvm.stopAll(started.stream().filter(ChildJvm::isAlive).toList(), Duration.ofSeconds(10));
    }

    @Test
    void aChildIsFoundAgainThroughItsPidFileAndStoppedWithIt() throws Exception {
        StackDirectory directory = new StackDirectory(temp);
        ChildJvm child = start(directory, "sleeper", Sleeper.class.getName(), "hello");
        await(() -> child.logContains("hello"));
        assertThat(Files.readString(directory.pidFile("sleeper")).trim()).isEqualTo(Long.toString(child.pid()));

        ChildJvm found = ChildJvm.find(directory, "sleeper").orElseThrow();
        assertThat(found.pid()).isEqualTo(child.pid());
        assertThat(found.log()).isEqualTo(directory.log("sleeper"));

        found.stop(Duration.ofSeconds(10));

        assertThat(child.isAlive()).isFalse();
        assertThat(directory.pidFile("sleeper")).doesNotExist();
        assertThat(ChildJvm.find(directory, "sleeper")).isEmpty();
    }

    @Test
    void aPidFileIsTrustedOnlyForAProcessWithTheTagOfItsDirectoryAndName() {
        StackDirectory directory = new StackDirectory(temp.resolve("a"));
        directory.createDirectories();
        // a live process without the tag: this JVM
        directory.writePid("sleeper", ProcessHandle.current().pid());
        assertThat(ChildJvm.find(directory, "sleeper")).isEmpty();

        ChildJvm child = start(directory, "sleeper", Sleeper.class.getName(), "tagged");
        assertThat(ChildJvm.find(directory, "sleeper")).isPresent();
        // the same process named by another name's pid file, or by another directory's
        directory.writePid("other", child.pid());
        assertThat(ChildJvm.find(directory, "other")).isEmpty();
        StackDirectory elsewhere = new StackDirectory(temp.resolve("b"));
        elsewhere.createDirectories();
        elsewhere.writePid("sleeper", child.pid());
        assertThat(ChildJvm.find(elsewhere, "sleeper")).isEmpty();
    }

    @Test
    void aKilledChildLeavesItsPidFileAndTheNextStartAppendsToItsLog() throws Exception {
        StackDirectory directory = new StackDirectory(temp);
        ChildJvm first = start(directory, "sleeper", Sleeper.class.getName(), "first-start");
        await(() -> first.logContains("first-start"));

        first.kill();

        assertThat(first.isAlive()).isFalse();
        assertThat(directory.pidFile("sleeper")).as("a crash leaves the pid file").isRegularFile();
        assertThat(ChildJvm.find(directory, "sleeper")).as("a dead process is not found").isEmpty();

        ChildJvm second = start(directory, "sleeper", Sleeper.class.getName(), "second-start");
        await(() -> second.logContains("second-start"));
        assertThat(second.logContains("first-start")).as("readiness reads this start's output only").isFalse();
        String log = Files.readString(directory.log("sleeper"), StandardCharsets.UTF_8);
        assertThat(log).contains("first-start", "second-start");
        assertThat(log.lines().filter(line -> line.startsWith("=== ") && line.contains(" starting sleeper: "))).hasSize(2);

        // stopping the first again changes nothing, and leaves the second's pid file alone
        first.stop(Duration.ofSeconds(1));
        assertThat(ChildJvm.find(directory, "sleeper")).map(ChildJvm::pid).contains(second.pid());
    }

    @Test
    void aChildThatExitsAtOnceIsDescribedWithItsExitCodeAndLog() {
        StackDirectory directory = new StackDirectory(temp);
        ChildJvm child = start(directory, "broken", "io.modelpress.devstack.NoSuchMainClass", "x");
        await(() -> !child.isAlive());

        String failure = child.describeFailure("broken exited during start-up");

        assertThat(failure).startsWith("broken exited during start-up (exit code 1). Last lines of " + directory.log("broken"))
                .contains("NoSuchMainClass");
    }

    private ChildJvm start(StackDirectory directory, String name, String mainClass, String argument) {
        ChildJvm child = ChildJvm.start(directory, name, new ChildJvm.Launch(List.of(testClasses()), mainClass,
                List.of(argument), List.of("-Xmx32m", "-XX:TieredStopAtLevel=1"), Map.of(), null), Lifetime.TIED_TO_THIS_JVM);
        started.add(child);
        return child;
    }

    private static Path testClasses() {
        try {
            return Path.of(Sleeper.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void await(BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s").isLessThan(deadline);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
