package io.modelpress.core.data;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Runs Debian's /usr/bin/python3 (with numpy) to write and check fixtures; tests that need it skip where it is absent. */
public final class Python {
    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static Boolean numpy;

    private Python() {
    }

    public static synchronized void assumeNumpy() {
        if (numpy == null) {
            try {
                numpy = Files.isExecutable(PYTHON) && exec(Path.of("."), "import numpy").exit == 0;
            } catch (IOException | InterruptedException e) {
                numpy = false;
            }
        }
        Assumptions.assumeTrue(numpy, "/usr/bin/python3 with numpy is not available");
    }

    /** Runs a script in {@code dir}; fails the test if it exits non-zero. Returns its standard output. */
    public static String run(Path dir, String script) throws IOException, InterruptedException {
        Result result = exec(dir, script);
        if (result.exit != 0) {
            throw new AssertionError("python failed (" + result.exit + "):\n" + result.output);
        }
        return result.output;
    }

    private record Result(int exit, String output) {
    }

    private static Result exec(Path dir, String script) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(PYTHON.toString(), "-c", script).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = process.getInputStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("python did not finish");
        }
        return new Result(process.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
