package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.eval.Similarity;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.BucketEvent;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import java.util.concurrent.TimeUnit;

/** The bucket intake: a model dropped under incoming/ comes out under outgoing/, once, however often it is announced. */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class DropToOutgoingIT {
    private final E2eStack e2e = E2eStack.shared();

    @Test
    void aDroppedModelYieldsTheOutgoingModelAndReport() throws Exception {
        String name = E2eStack.uniqueName("drop");
        byte[] model = E2eStack.mlp(64, 256, 16, 1);
        e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.INT8_EVAL_RECIPE);
        e2e.put("incoming/" + name + "/model.onnx", model);

        RunState run = e2e.awaitEnd(e2e.awaitRunFor("incoming/" + name + "/model.onnx").runId());

        assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
        String outgoing = "outgoing/" + name + "/" + run.runId() + "/";
        assertThat(run.outgoing()).isEqualTo(outgoing);
        assertThat(e2e.keysUnder(outgoing)).containsExactlyInAnyOrder("model.onnx", "report.json", "report.html");

        RunReport report = RunReports.read(e2e.store.getJson(outgoing + "report.json", JsonNode.class).orElseThrow(), "report.json");
        assertThat(report.run().state()).isEqualTo("SUCCEEDED");
        assertThat(report.run().source()).isEqualTo("incoming/" + name + "/model.onnx");
        assertThat(report.recipe().source()).isEqualTo("sibling");
        assertThat(report.size().inputBytes()).isEqualTo(model.length);
        // int8 weights: well under half the bytes, and the eval-worker measured the fidelity against the original
        assertThat(report.size().outputBytes()).isLessThan(model.length / 2L);
        assertThat(report.evaluation().qualityDelta().get("cosine")).isBetween(-0.01, 0.0);
        assertThat(report.gate()).isEqualTo(RunReport.PASSED);

        // judged independently: the outgoing model runs in ONNX Runtime and answers like the original
        Path dir = Files.createTempDirectory("e2e-drop");
        Path original = Files.write(dir.resolve("original.onnx"), model);
        Path compressed = e2e.store.get(e2e.store.stat(outgoing + "model.onnx").orElseThrow(), dir.resolve("model.onnx"));
        int rows = 8;
        float[] x = SmallModels.random(new Random(11), rows * 64, 1f);
        float[] expected = Ort.runFirstOutput(original, Map.of("x", new Ort.Floats(x, rows, 64)));
        float[] actual = Ort.runFirstOutput(compressed, Map.of("x", new Ort.Floats(x, rows, 64)));
        assertThat(actual).hasSameSizeAs(expected);
        for (int row = 0; row < rows; row++) {
            assertThat(Similarity.cosine(expected, actual, row * 16, 16)).as("cosine of row %d", row).isGreaterThan(0.99);
        }
        // the user's drop is never touched
        assertThat(e2e.keysUnder("incoming/" + name + "/")).containsExactlyInAnyOrder("model.onnx", "recipe.yaml");
    }

    @Test
    void theSameDropDeliveredTwiceMakesOneRun() throws Exception {
        String name = E2eStack.uniqueName("twice");
        String key = "incoming/" + name + "/model.onnx";
        byte[] model = E2eStack.smallModel(2);
        e2e.put("incoming/" + name + "/recipe.yaml", E2eStack.EVAL_RECIPE);
        e2e.put(key, model);
        RunState first = e2e.awaitRunFor(key);

        // the same content uploaded again (same ETag), and the bucket notification delivered a second time
        e2e.put(key, model);
        var stat = e2e.store.list(key).get(0);
        BucketEvent again = new BucketEvent("s3:ObjectCreated:Put", e2e.endpoints.bucket(), key, stat.bytes(), stat.etag(), null,
                Instant.now());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, e2e.endpoints.kafkaBootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(Topics.BUCKET_EVENTS, again.kafkaKey(), again.toNotificationJson())).get();
        }
        // a later drop is announced by a poll that also saw the re-upload, and its event comes after ours
        String later = "incoming/" + E2eStack.uniqueName("after-twice") + "/model.onnx";
        e2e.put(later, E2eStack.smallModel(3));
        e2e.awaitRunFor(later);

        RunState ended = e2e.awaitEnd(first.runId());
        assertThat(ended.state()).as(ended.error()).isEqualTo(RunState.State.SUCCEEDED);
        assertThat(e2e.runsFor(key)).extracting(RunState::runId).containsExactly(first.runId());
        assertThat(e2e.keysUnder("outgoing/" + name + "/")).containsExactlyInAnyOrder(
                first.runId() + "/model.onnx", first.runId() + "/report.json", first.runId() + "/report.html");
    }
}
