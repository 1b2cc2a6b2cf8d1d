package io.modelpress.orchestrator;

import io.modelpress.core.testing.SmallModels;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/** What the tests share: the devstack's S3 bucket, a worker stand-in on its Kafka, and real ONNX models. */
final class Harness {
    private static Harness shared;
    private static final AtomicInteger NAMES = new AtomicInteger();

    final Endpoints endpoints;
    final ArtifactStore store;
    final TestWorker worker;

    /** A real ONNX model (an MLP, ~37 KB) as the user's drop, and a smaller one as a stage's output. */
    static final byte[] ORIGINAL = SmallModels.mlp(64, 128, 8, false, 42).toByteArray();
    static final byte[] COMPRESSED = SmallModels.mlp(64, 32, 8, false, 43).toByteArray();
    /** Stage outputs larger and smaller than {@link #COMPRESSED}, for tuning candidates of different sizes. */
    static final byte[] COMPRESSED_LARGER = SmallModels.mlp(64, 64, 8, false, 51).toByteArray();
    static final byte[] COMPRESSED_SMALLER = SmallModels.mlp(64, 16, 8, false, 53).toByteArray();

    static final String QUANTIZE_EVAL = """
            name: test-int8
            stages:
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, agreement], gate: { min_cosine: 0.99 } }
            """;

    /** An evaluation stage's report as core's EvalStage writes it: the EvaluationReport JSON plus the gate verdict. */
    static final String EVAL_METRICS = """
            {"model": "model.onnx", "reference": "original.onnx", "samples": 64, "threads": 1, "agreement": 0.98,
             "outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}},
             "gate_checks": [{"name": "min_cosine", "limit": 0.99, "value": 0.996, "passed": true}], "gate": "passed"}
            """;

    private Harness() {
        endpoints = DevStack.shared();
        store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(),
                endpoints.bucket()));
        worker = new TestWorker(endpoints.kafkaBootstrapServers(), store);
    }

    static synchronized Harness shared() {
        if (shared == null) {
            shared = new Harness();
        }
        return shared;
    }

    /** A model name no other test uses. */
    static String uniqueName(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
    }

    void put(String key, byte[] bytes) {
        store.putBytes(key, bytes, "application/octet-stream");
    }

    void put(String key, String text) {
        put(key, text.getBytes(StandardCharsets.UTF_8));
    }
}
