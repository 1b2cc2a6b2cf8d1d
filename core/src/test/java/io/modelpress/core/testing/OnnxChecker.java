package io.modelpress.core.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The official onnx checker (Debian python3-onnx with /usr/bin/python3) as an independent judge of the models we
 * write. Tests call {@link #assertValid}; where the checker is missing they are skipped, not passed.
 */
public final class OnnxChecker {
    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static Boolean available;

    private OnnxChecker() {
    }

    public static synchronized boolean available() {
        if (available == null) {
            available = Files.isExecutable(PYTHON) && run(List.of("-c", "import onnx")).exitCode == 0;
        }
        return available;
    }

    /** Asserts the checker accepts each model (full check with shape inference); skips if no checker. */
    public static void assertValid(Path... models) {
        Assumptions.assumeTrue(available(), "onnx checker absent: apt-get install python3-onnx");
        List<String> args = new ArrayList<>(List.of("-c",
                "import onnx,sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n"));
        for (Path m : models) {
            args.add(m.toAbsolutePath().toString());
        }
        Result r = run(args);
        assertThat(r.exitCode).as("onnx checker output:\n%s", r.output).isZero();
    }

    /** Runs a python snippet with /usr/bin/python3 (for fixtures made by the reference onnx library). */
    public static Result python(String script, String... args) {
        Assumptions.assumeTrue(available(), "python3-onnx absent: apt-get install python3-onnx");
        List<String> all = new ArrayList<>(List.of("-c", script));
        all.addAll(List.of(args));
        return run(all);
    }

    public record Result(int exitCode, String output) {
    }

    private static Result run(List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(PYTHON.toString());
        command.addAll(args);
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, out + "\n(timed out)");
            }
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }
}
