package io.modelpress.core.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxRuntimeEnvironment;
import io.modelpress.core.testing.StatefulVad;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;

/**
 * Run by {@link OrtLogTest} in a child JVM, whose stderr (native writes included) the test reads. Makes ONNX Runtime
 * fail inside a model (a reflect Pad on too short an input) and prints the error it got to stdout.
 * Modes: {@code plain} runs ONNX Runtime with default options (the control: its log lines must show up);
 * {@code modelpress} loads and runs through {@link ModelSession} and the evaluator; {@code inherited} runs a session
 * with default options, as other parts of ModelPress make them, in the environment {@link OnnxRuntimeEnvironment} made; {@code late} is {@code modelpress} after something
 * else made the environment at ONNX Runtime's default level.
 */
public final class OrtLogChild {
    private OrtLogChild() {
    }

    public static void main(String[] args) throws Exception {
        Path model = StatefulVad.write(Path.of(args[1]), 1);
        if (args[0].equals("late")) {
            OrtEnvironment.getEnvironment(); // someone else made the environment first, at ONNX Runtime's default level
        }
        if (args[0].equals("plain") || args[0].equals("inherited")) {
            OrtEnvironment env = args[0].equals("plain") ? OrtEnvironment.getEnvironment() : OnnxRuntimeEnvironment.get();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                 OrtSession session = env.createSession(model.toString(), options);
                 OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[8]), new long[] {1, 8});
                 OnnxTensor sr = OnnxTensor.createTensor(env, 16000L);
                 OnnxTensor state = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[2 * StatefulVad.STATE]), new long[] {2, 1, StatefulVad.STATE})) {
                session.run(Map.of("input", input, "sr", sr, "state", state)).close();
                System.out.println("ran");
            } catch (OrtException e) {
                System.out.println("failed: " + e.getMessage());
            }
            return;
        }
        try {
            Evaluator.run(EvaluationRequest.of(model, null).withReference(model).withLatencyBudget(java.time.Duration.ZERO));
            System.out.println("ran");
        } catch (ModelPressException e) {
            System.out.println("failed: " + e.getMessage());
        }
    }
}
