package io.modelpress.devstack;

import static org.assertj.core.api.Assertions.assertThat;

import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.GetObjectResponse;
import io.minio.MinioClient;
import io.minio.ObjectWriteResponse;
import io.minio.PutObjectArgs;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The services a test stack starts are the real thing: Kafka clients and the MinIO SDK work against them. */
class DevStackTest {

    private static DevStack stack;
    private static Endpoints endpoints;
    private static MinioClient s3;

    @BeforeAll
    static void start() {
        stack = DevStack.startForTests();
        endpoints = stack.endpoints();
        s3 = MinioClient.builder()
                .endpoint(endpoints.s3Endpoint())
                .credentials(endpoints.s3AccessKey(), endpoints.s3SecretKey())
                .build();
    }

    @AfterAll
    static void stop() throws Exception {
        s3.close();
        stack.close();
    }

    @Test
    void endpointsAreOnLoopbackAndWrittenToTheStackDirectory() {
        assertThat(endpoints.kafkaBootstrapServers()).startsWith("127.0.0.1:");
        assertThat(endpoints.s3Endpoint()).startsWith("http://127.0.0.1:");
        assertThat(endpoints.bucket()).isEqualTo("modelpress");
        assertThat(Endpoints.readFrom(stack.directory().resolve("endpoints.properties"))).isEqualTo(endpoints);
    }

    @Test
    void kafkaCreatesATopicAndDeliversARecord() throws Exception {
        String topic = "devstack-test";
        try (Admin admin = Admin.create(
                Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafkaBootstrapServers()))) {
            assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get(30, TimeUnit.SECONDS);
            TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(30, TimeUnit.SECONDS).get(topic);
            assertThat(description.partitions()).hasSize(3);
        }

        RecordMetadata sent;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(clientConfig(Map.of(
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.ACKS_CONFIG, "all")))) {
            ProducerRecord<String, String> record = new ProducerRecord<>(topic, "run-1", "{\"stage\":\"prune\"}");
            record.headers().add("ce_type", "io.modelpress.test".getBytes(StandardCharsets.UTF_8));
            sent = producer.send(record).get(30, TimeUnit.SECONDS);
        }

        List<ConsumerRecord<String, String>> received = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(clientConfig(Map.of(
                ConsumerConfig.GROUP_ID_CONFIG, "devstack-test",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName())))) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (received.isEmpty() && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(received::add);
            }
            consumer.commitSync();
        }

        assertThat(received).hasSize(1);
        ConsumerRecord<String, String> record = received.get(0);
        assertThat(record.key()).isEqualTo("run-1");
        assertThat(record.value()).isEqualTo("{\"stage\":\"prune\"}");
        assertThat(record.partition()).isEqualTo(sent.partition());
        assertThat(record.offset()).isEqualTo(sent.offset());
        assertThat(new String(record.headers().lastHeader("ce_type").value(), StandardCharsets.UTF_8))
                .isEqualTo("io.modelpress.test");
    }

    @Test
    void s3StoresAnObjectWithUserMetadata() throws Exception {
        assertThat(s3.bucketExists(BucketExistsArgs.builder().bucket(endpoints.bucket()).build())).isTrue();
        byte[] body = "not really an ONNX model".getBytes(StandardCharsets.UTF_8);
        s3.putObject(PutObjectArgs.builder()
                .bucket(endpoints.bucket())
                .object("incoming/tiny/model.onnx")
                .stream(new ByteArrayInputStream(body), body.length, -1)
                .contentType("application/octet-stream")
                .userMetadata(Map.of("sha256", sha256Hex(body), "run-id", "r-42"))
                .build());

        StatObjectResponse stat = s3.statObject(
                StatObjectArgs.builder().bucket(endpoints.bucket()).object("incoming/tiny/model.onnx").build());
        assertThat(stat.size()).isEqualTo(body.length);
        assertThat(stat.userMetadata()).containsEntry("sha256", sha256Hex(body)).containsEntry("run-id", "r-42");

        try (GetObjectResponse object = s3.getObject(
                GetObjectArgs.builder().bucket(endpoints.bucket()).object("incoming/tiny/model.onnx").build())) {
            assertThat(object.readAllBytes()).isEqualTo(body);
        }
    }

    @Test
    void s3TakesAHundredMegabyteMultipartUpload() throws Exception {
        long size = 100L * 1024 * 1024;
        long partSize = 16L * 1024 * 1024;
        String key = "runs/r-1/00-prune-a1/model.onnx";

        MessageDigest uploaded = sha256();
        ObjectWriteResponse written;
        try (InputStream source = new DigestInputStream(new PatternStream(size), uploaded)) {
            written = s3.putObject(PutObjectArgs.builder()
                    .bucket(endpoints.bucket())
                    .object(key)
                    .stream(source, size, partSize)
                    .build());
        }
        // S3 gives a multipart object the ETag "<md5 of the part md5s>-<part count>" (quotes included).
        assertThat(written.etag().replace("\"", "")).endsWith("-" + (size + partSize - 1) / partSize);

        StatObjectResponse stat =
                s3.statObject(StatObjectArgs.builder().bucket(endpoints.bucket()).object(key).build());
        assertThat(stat.size()).isEqualTo(size);

        MessageDigest downloaded = sha256();
        try (GetObjectResponse object =
                        s3.getObject(GetObjectArgs.builder().bucket(endpoints.bucket()).object(key).build());
                  OutputStream sink = OutputStream.nullOutputStream()) {
            new DigestInputStream(object, downloaded).transferTo(sink);
        }
        assertThat(downloaded.digest()).isEqualTo(uploaded.digest());
    }

    private static Properties clientConfig(Map<String, String> settings) {
        Properties properties = new Properties();
        properties.put("bootstrap.servers", endpoints.kafkaBootstrapServers());
        properties.putAll(settings);
        return properties;
    }

    private static MessageDigest sha256() throws NoSuchAlgorithmException {
        return MessageDigest.getInstance("SHA-256");
    }

    private static String sha256Hex(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    /** {@code size} bytes of a fixed, non-repeating-looking pattern, generated as read: nothing is held in memory. */
    private static final class PatternStream extends InputStream {
        private final long size;
        private long position;

        PatternStream(long size) {
            this.size = size;
        }

        @Override
        public int read() {
            if (position >= size) {
                return -1;
            }
            return patternByte(position++);
        }

        @Override
        public int read(byte[] buffer, int offset, int length) {
            if (position >= size) {
                return -1;
            }
            int count = (int) Math.min(length, size - position);
            for (int i = 0; i < count; i++) {
                buffer[offset + i] = (byte) patternByte(position++);
            }
            return count;
        }

        private static int patternByte(long index) {
            long mixed = index * 0x9E3779B97F4A7C15L;
            return (int) ((mixed ^ (mixed >>> 29)) >>> 56) & 0xFF;
        }
    }

}
