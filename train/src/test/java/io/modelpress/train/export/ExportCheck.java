package io.modelpress.train.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the same input through a DJL block and through its exported ONNX file, and the onnx checker. */
final class ExportCheck {
    private ExportCheck() {
    }

    /** Largest absolute difference between the block's inference output and ONNX Runtime's for {@code input}. */
    static float maxAbsDifference(Block block, Path onnxFile, NDArray input) throws OrtException {
        float[] expected;
        try (NDManager scope = input.getManager().newSubManager()) {
            expected = block.forward(new ParameterStore(scope, false), new NDList(input), false)
                    .singletonOrThrow().toFloatArray();
        }
        float[] actual = runOnnx(onnxFile, input.toFloatArray(), input.getShape());
        assertThat(actual).hasSameSizeAs(expected);
        float max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        return max;
    }

    static float[] runOnnx(Path onnxFile, float[] input, Shape shape) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(onnxFile.toString(), options);
                 OnnxTensor tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(input), shape.getShape());
                 OrtSession.Result result = session.run(Map.of(OnnxExporter.DEFAULT_INPUT, tensor))) {
                OnnxTensor output = (OnnxTensor) result.get(OnnxExporter.DEFAULT_OUTPUT).orElseThrow();
                FloatBuffer buffer = output.getFloatBuffer();
                float[] values = new float[buffer.remaining()];
                buffer.get(values);
                return values;
            }
        }
    }

    static final String PYTHON = "/usr/bin/python3";

    static boolean onnxCheckerAvailable() {
        try {
            return run(PYTHON, "-c", "import onnx").exitCode == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** The onnx package's full check (loaded model, so the checker does not rewrite the file). */
    static ProcessResult onnxChecker(Path file) throws IOException {
        return run(PYTHON, "-c",
                "import onnx,sys;[onnx.checker.check_model(onnx.load(p),full_check=True) for p in sys.argv[1:]]",
                file.toString());
    }

    record ProcessResult(int exitCode, String output) {
    }

    private static ProcessResult run(String... command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return new ProcessResult(-1, "timed out");
            }
            return new ProcessResult(process.exitValue(), output);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            return new ProcessResult(-1, "interrupted");
        }
    }
}
