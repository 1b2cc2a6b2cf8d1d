package io.modelpress.core.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ONNX Runtime writes its log straight to the process's stderr (file descriptor 2, in colour), past System.err, so
 * this runs a child JVM and reads what reached its stderr: ONNX Runtime's failure must arrive once, as ModelPress's
 * exception, never as extra log lines.
 */
class OrtLogTest {
    @TempDir
    Path dir;

    record Child(String out, String err) {
    }

    Child run(String mode) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path err = dir.resolve(mode + ".err");
        Process process = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                OrtLogChild.class.getName(), mode, dir.resolve(mode + ".onnx").toString())
                .redirectError(err.toFile()).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the child JVM did not finish");
        }
        assertThat(process.exitValue()).as(Files.readString(err)).isZero();
        return new Child(out, Files.readString(err));
    }

    @Test
    void plainOnnxRuntimeLogsTheFailureToStderrButModelPressDoesNot() throws Exception {
        Child plain = run("plain");
        assertThat(plain.out()).contains("failed:").contains("Pad reflect");
        // the control: ONNX Runtime's own error lines, colour codes and all, which this test must be able to see
        assertThat(plain.err()).contains("[E:onnxruntime:").contains("\u001b[");

        Child ours = run("modelpress");
        assertThat(ours.out()).contains("failed: model modelpress.onnx: ONNX Runtime failed to run it: If node 'by_rate'")
                .contains("--shape input=1xN");
        assertThat(ours.err()).doesNotContain("onnxruntime").doesNotContain("\u001b[");

        Child inherited = run("inherited");
        assertThat(inherited.out()).contains("failed:").contains("Pad reflect");
        assertThat(inherited.err()).doesNotContain("onnxruntime").doesNotContain("\u001b[").doesNotContain("OrtEnvironment");

        Child late = run("late");
        assertThat(late.out()).contains("failed: model late.onnx: ONNX Runtime failed to run it");
        assertThat(late.err()).doesNotContain("onnxruntime").doesNotContain("\u001b[").doesNotContain("OrtEnvironment");
    }
}
