package io.modelpress.pipeline.events;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BucketEventTest {
    /** A notification as MinIO publishes it to Kafka for a multipart upload (layout of MinIO's event docs). */
    private static final String MINIO_MULTIPART = """
            {"EventName":"s3:ObjectCreated:CompleteMultipartUpload","Key":"modelpress/incoming/my model/model.onnx",
             "Records":[{"eventVersion":"2.0","eventSource":"minio:s3","awsRegion":"","eventTime":"2026-11-02T10:15:30.123Z",
               "eventName":"s3:ObjectCreated:CompleteMultipartUpload","userIdentity":{"principalId":"minioadmin"},
               "requestParameters":{"principalId":"minioadmin","region":"","sourceIPAddress":"127.0.0.1"},
               "responseElements":{"x-amz-request-id":"17A3B4C5D6E7F809"},
               "s3":{"s3SchemaVersion":"1.0","configurationId":"Config",
                     "bucket":{"name":"modelpress","ownerIdentity":{"principalId":"minioadmin"},"arn":"arn:aws:s3:::modelpress"},
                     "object":{"key":"incoming%2Fmy+model%2Fmodel%C3%A9.onnx","size":104857600,
                               "eTag":"9b2cf535f27731c974343645a3985328-7","contentType":"application/octet-stream",
                               "userMetadata":{"content-type":"application/octet-stream"},"sequencer":"17A3B4C5D6E7F80A"}},
               "source":{"host":"127.0.0.1","port":"","userAgent":"MinIO (linux; amd64) minio-go/v7.0.70"}}]}
            """;

    @Test
    void parsesMinioNotificationAndDecodesTheKey() {
        List<BucketEvent> events = BucketEvent.parse(MINIO_MULTIPART.getBytes(StandardCharsets.UTF_8));

        assertThat(events).hasSize(1);
        BucketEvent event = events.get(0);
        assertThat(event.eventName()).isEqualTo("s3:ObjectCreated:CompleteMultipartUpload");
        assertThat(event.objectCreated()).isTrue();
        assertThat(event.bucket()).isEqualTo("modelpress");
        assertThat(event.key()).isEqualTo("incoming/my model/modelé.onnx");
        assertThat(event.size()).isEqualTo(104_857_600L);
        assertThat(event.etag()).isEqualTo("9b2cf535f27731c974343645a3985328-7");
        assertThat(event.versionId()).isNull();
        assertThat(event.time()).isEqualTo(Instant.parse("2026-11-02T10:15:30.123Z"));
        assertThat(event.kafkaKey()).isEqualTo("modelpress/incoming/my model/modelé.onnx");
    }

    @Test
    void writtenNotificationReadsBackTheSame() {
        BucketEvent event = new BucketEvent("s3:ObjectCreated:Put", "modelpress", "incoming/a b+c/100%/model.onnx", 42,
                "d41d8cd98f00b204e9800998ecf8427e", "v1", Instant.parse("2026-01-01T00:00:00Z"));

        byte[] json = event.toNotificationJson();

        assertThat(new String(json, StandardCharsets.UTF_8)).contains("incoming%2Fa+b%2Bc%2F100%25%2Fmodel.onnx");
        assertThat(BucketEvent.parse(json)).containsExactly(event);
    }

    @Test
    void removedObjectIsNotCreated() {
        String json = MINIO_MULTIPART.replace("s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:Delete");
        assertThat(BucketEvent.parse(json.getBytes(StandardCharsets.UTF_8)).get(0).objectCreated()).isFalse();
    }

    @Test
    void testEventWithoutRecordsIsEmpty() {
        byte[] json = "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Bucket\":\"modelpress\"}".getBytes(StandardCharsets.UTF_8);
        assertThat(BucketEvent.parse(json)).isEmpty();
    }

    @Test
    void malformedNotificationsNameTheProblem() {
        assertThatThrownBy(() -> BucketEvent.parse("not json".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(ModelPressException.class)
                .hasMessageContaining("bucket notification: is not valid JSON")
                .satisfies(e -> assertThat(((ModelPressException) e).code()).isEqualTo(ErrorCode.BAD_ARGUMENT));
        assertThatThrownBy(() -> BucketEvent.parse("{\"Records\":[{\"s3\":{}}]}".getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("Records[0]: has no s3.bucket.name or s3.object.key");
    }

    @Test
    void listingEtagsLoseTheirQuotes() {
        assertThat(BucketEvent.unquote("\"abc\"")).isEqualTo("abc");
        assertThat(BucketEvent.unquote("abc")).isEqualTo("abc");
        assertThat(BucketEvent.unquote("")).isNull();
    }
}
