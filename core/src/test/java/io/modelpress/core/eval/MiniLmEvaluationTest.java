package io.modelpress.core.eval;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.data.DataOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The evaluator on a real encoder pair: all-MiniLM-L6-v2 fp32 (reference) and its ONNX Runtime-quantized release. */
class MiniLmEvaluationTest {
    static final int SENTENCES = 320;
    static final int BATCH = 32;
    static Path fp32;
    static Path quantized;
    static Path tokenizer;
    static Path sentences;

    @BeforeAll
    static void models() {
        fp32 = ReferenceModels.minilm();
        quantized = ReferenceModels.minilmQuantized();
        tokenizer = ReferenceModels.minilmTokenizer();
        sentences = examplesData("sentences-eval.jsonl");
    }

    static Path examplesData(String name) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("examples/data").resolve(name);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("examples/data/" + name + " not found above " + Path.of("").toAbsolutePath());
    }

    @Test
    void pooledCosineMatchesAnIndependentComputationAndLatencyIsMeasured() throws Exception {
        EvaluationRequest request = EvaluationRequest.of(quantized, sentences)
                .withReference(fp32)
                .withDataOptions(DataOptions.DEFAULT.withTokenizer(tokenizer).withLimit(SENTENCES))
                .withBatchSize(BATCH)
                .withLatencyBudget(Duration.ofMillis(300));
        EvaluationReport report = Evaluator.run(request);
        System.out.println(report.toText());

        assertThat(report.samples()).isEqualTo(SENTENCES);
        EvaluationReport.OutputMetrics hidden = report.outputs().get("last_hidden_state");
        assertThat(hidden).isNotNull();
        double expected = independentMeanPooledCosine();
        assertThat(hidden.cosine().mean()).isCloseTo(expected, within(1e-4));
        assertThat(hidden.cosine().mean()).isBetween(0.98, 0.999);
        assertThat(hidden.cosine().worst()).isLessThanOrEqualTo(hidden.cosine().mean()).isGreaterThan(0.9);
        assertThat(hidden.tokenCosine()).isNotNull();
        assertThat(hidden.tokenCosine().mean()).isBetween(0.9, 1.0);
        assertThat(hidden.mse().mean()).isPositive();
        assertThat(hidden.kl()).isNull();
        assertThat(report.accuracy()).isNull();
        assertThat(report.agreement()).as("a [batch, tokens, hidden] output holds no classes").isNull();

        ObjectNode json = report.toJson();
        System.out.println(json.toPrettyString());
        for (String prefix : List.of("", "reference_")) {
            JsonNode latency = json.get(prefix + "latency_ms");
            assertThat(latency.get("batch_1").get("p50").asDouble()).isPositive();
            assertThat(latency.get("batch_1").get("p95").asDouble()).isGreaterThanOrEqualTo(latency.get("batch_1").get("p50").asDouble());
            assertThat(latency.get("batch_N").get("batch").asInt()).isEqualTo(BATCH);
            assertThat(latency.get("batch_N").get("p50").asDouble()).isPositive();
            assertThat(latency.get("batch_N").get("p95").asDouble()).isPositive();
            assertThat(json.get(prefix + "throughput_per_s").asDouble()).isPositive();
        }
        for (String batch : List.of("batch_1", "batch_N")) {
            JsonNode speed = json.get("latency_vs_reference").get(batch);
            assertThat(speed.get("pairs").asInt()).isGreaterThanOrEqualTo(LatencyComparison.MIN_PAIRS);
            assertThat(speed.get("ratio_min").asDouble()).isLessThanOrEqualTo(speed.get("ratio").asDouble());
            assertThat(speed.get("verdict").asText()).isIn("faster", "slower", "no measurable difference");
            assertThat(speed.get("text").asText()).contains("session pairs");
        }
        assertThat(json.get("file_bytes").asLong()).isEqualTo(Files.size(quantized));
        assertThat(json.get("reference_file_bytes").asLong()).isEqualTo(Files.size(fp32));
        assertThat(json.get("compressed_bytes").asLong()).isPositive().isLessThan(Files.size(quantized));
        assertThat(json.get("outputs").get("last_hidden_state").get("cosine").get("mean").asDouble())
                .isEqualTo(hidden.cosine().mean());
        assertThat(json.has("accuracy")).isFalse();
        assertThat(json.has("notes")).as("nothing to note for an embedding model without labels: %s", json.get("notes")).isFalse();
    }

    @Test
    void textDataFindsTheTokenizerBesideTheModelAndAModelAgreesWithItself() {
        assertThat(tokenizer).isEqualTo(fp32.resolveSibling("tokenizer.json"));
        EvaluationReport alone = Evaluator.run(EvaluationRequest.of(quantized, sentences)
                .withDataOptions(DataOptions.DEFAULT.withLimit(8)).withLatencyBudget(Duration.ZERO));
        assertThat(alone.samples()).isEqualTo(8);
        assertThat(alone.outputs()).isEmpty();
        assertThat(alone.timings()).isNull();

        EvaluationReport self = Evaluator.run(EvaluationRequest.of(fp32, sentences).withReference(fp32)
                .withDataOptions(DataOptions.DEFAULT.withLimit(40)).withBatchSize(16).withLatencyBudget(Duration.ZERO));
        EvaluationReport.OutputMetrics hidden = self.outputs().get("last_hidden_state");
        assertThat(hidden.cosine().worst()).isGreaterThan(0.99999);
        assertThat(hidden.tokenCosine().worst()).isGreaterThan(0.99999);
        assertThat(hidden.mse().worst()).isLessThan(1e-9);
    }

    /**
     * The same metric computed without the evaluator: DJL tokenizer, plain ONNX Runtime sessions, batches of 32 padded
     * to their longest sentence, mean pooling over the attention mask, cosine per sentence.
     */
    static double independentMeanPooledCosine() throws Exception {
        List<String> texts = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(sentences)) {
            if (texts.size() < SENTENCES && !line.isBlank()) {
                texts.add(json.readTree(line).get("text").asText());
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double sum = 0;
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(tokenizer, Map.of("padding", "true", "truncation", "true", "maxLength", "128"));
             OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession a = env.createSession(quantized.toString(), options);
             OrtSession b = env.createSession(fp32.toString(), options)) {
            for (int start = 0; start < texts.size(); start += BATCH) {
                List<String> chunk = texts.subList(start, Math.min(texts.size(), start + BATCH));
                Encoding[] enc = tok.batchEncode(chunk);
                long[][] ids = new long[enc.length][];
                long[][] mask = new long[enc.length][];
                long[][] types = new long[enc.length][];
                for (int i = 0; i < enc.length; i++) {
                    ids[i] = enc[i].getIds();
                    mask[i] = enc[i].getAttentionMask();
                    types[i] = enc[i].getTypeIds();
                }
                float[][][] ha;
                float[][][] hb;
                try (OnnxTensor tIds = OnnxTensor.createTensor(env, ids);
                     OnnxTensor tMask = OnnxTensor.createTensor(env, mask);
                     OnnxTensor tTypes = OnnxTensor.createTensor(env, types)) {
                    Map<String, OnnxTensor> feeds = Map.of("input_ids", tIds, "attention_mask", tMask, "token_type_ids", tTypes);
                    try (OrtSession.Result ra = a.run(feeds); OrtSession.Result rb = b.run(feeds)) {
                        ha = (float[][][]) ra.get(0).getValue();
                        hb = (float[][][]) rb.get(0).getValue();
                    }
                }
                for (int i = 0; i < enc.length; i++) {
                    double[] pa = new double[ha[i][0].length];
                    double[] pb = new double[pa.length];
                    double count = 0;
                    for (int t = 0; t < mask[i].length; t++) {
                        if (mask[i][t] == 1) {
                            count++;
                            for (int h = 0; h < pa.length; h++) {
                                pa[h] += ha[i][t][h];
                                pb[h] += hb[i][t][h];
                            }
                        }
                    }
                    double dot = 0;
                    double na = 0;
                    double nb = 0;
                    for (int h = 0; h < pa.length; h++) {
                        dot += pa[h] / count * pb[h] / count;
                        na += pa[h] / count * pa[h] / count;
                        nb += pb[h] / count * pb[h] / count;
                    }
                    sum += dot / Math.sqrt(na * nb);
                }
            }
        }
        return sum / texts.size();
    }
}
