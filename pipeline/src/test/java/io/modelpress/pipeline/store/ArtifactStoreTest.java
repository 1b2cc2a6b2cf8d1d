package io.modelpress.pipeline.store;

import io.modelpress.core.Sha256;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.events.ArtifactRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ArtifactStoreTest {
    private static Endpoints endpoints;
    private static ArtifactStore store;
    private final String prefix = "test/" + UUID.randomUUID() + "/";

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        endpoints = DevStack.shared();
        store = new ArtifactStore(settings(endpoints));
        store.ensureBucket();
    }

    @AfterAll
    static void stop() {
        store.close();
    }

    static S3Settings settings(Endpoints endpoints) {
        return S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(), endpoints.bucket());
    }

    @Test
    void fileRoundTripRecordsAndVerifiesSha256() throws IOException {
        Path file = randomFile("model.onnx", 300_000, 1);
        ArtifactRef ref = store.put(prefix + "model.onnx", file);

        assertThat(ref).isEqualTo(new ArtifactRef(endpoints.bucket(), prefix + "model.onnx", Sha256.of(file), 300_000));
        assertThat(store.stat(prefix + "model.onnx")).contains(ref);
        Path back = store.get(ref, dir.resolve("back/model.onnx"));
        assertThat(back).hasSameBinaryContentAs(file);
        assertThat(back.resolveSibling("model.onnx.part")).doesNotExist();
    }

    @Test
    void largeFileUploadsInPartsAndStreamsBack() throws IOException {
        long size = 70L << 20;
        Path file = randomFile("big.onnx", size, 2);
        ArtifactRef ref = store.put(prefix + "big.onnx", file);

        assertThat(ref.bytes()).isEqualTo(size);
        assertThat(ref.sha256()).isEqualTo(Sha256.of(file));
        // a multipart upload's ETag is "<md5 of part md5s>-<number of parts>": 70 MiB in 16 MiB parts is 5 parts
        assertThat(store.list(prefix + "big.onnx")).singleElement()
                .satisfies(object -> assertThat(object.etag()).endsWith("-5"));
        Path back = store.get(ref, dir.resolve("big-back.onnx"));
        assertThat(Sha256.of(back)).isEqualTo(ref.sha256());
        assertThat(Files.size(back)).isEqualTo(size);
    }

    @Test
    void shaMismatchIsReportedAndThePartialFileRemoved() throws IOException {
        ArtifactRef ref = store.put(prefix + "a.bin", randomFile("a.bin", 10_000, 3));
        Path target = dir.resolve("down/a.bin");

        ArtifactRef wrongSha = new ArtifactRef(ref.bucket(), ref.key(), "0".repeat(64), ref.bytes());
        assertThatThrownBy(() -> store.get(wrongSha, target))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.IO_ERROR);
                    assertThat(e.getMessage()).contains("s3://" + ref.bucket() + "/" + ref.key(), "sha256 mismatch",
                            "0".repeat(64), ref.sha256());
                });
        assertThat(dir.resolve("down")).isEmptyDirectory();

        // the object replaced behind the ref's back: same check, same clean-up
        store.putBytes(prefix + "a.bin", "other bytes".getBytes(StandardCharsets.UTF_8), "application/octet-stream");
        assertThatThrownBy(() -> store.get(ref, target)).hasMessageContaining("sha256 mismatch");
        assertThat(dir.resolve("down")).isEmptyDirectory();
    }

    @Test
    void missingObjectIsAPermanentErrorNamingTheObject() {
        ArtifactRef missing = new ArtifactRef(endpoints.bucket(), prefix + "nothing.onnx", "0".repeat(64), 1);
        assertThatThrownBy(() -> store.get(missing, dir.resolve("x")))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.permanent()).isTrue();
                    assertThat(e.getMessage()).contains(prefix + "nothing.onnx", "does not exist");
                });
        assertThat(store.exists(prefix + "nothing.onnx")).isFalse();
        assertThat(store.stat(prefix + "nothing.onnx")).isEmpty();
        assertThat(dir.resolve("x.part")).doesNotExist();
    }

    @Test
    void wrongCredentialsArePermanent() throws IOException {
        Path file = randomFile("c.bin", 100, 4);
        try (ArtifactStore denied = new ArtifactStore(settings(endpoints).withSecretKey("not-the-secret"))) {
            assertThatThrownBy(() -> denied.put(prefix + "c.bin", file))
                    .isInstanceOfSatisfying(ModelPressException.class, e -> {
                        assertThat(e.permanent()).isTrue();
                        assertThat(e.getMessage()).contains("access denied");
                    });
        }
    }

    @Test
    void unreachableEndpointIsTransient() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        S3Settings nowhere = S3Settings.of("http://127.0.0.1:" + port, "a", "b", "modelpress");
        try (ArtifactStore unreachable = new ArtifactStore(nowhere)) {
            assertThatThrownBy(() -> unreachable.stat("x"))
                    .isInstanceOfSatisfying(ModelPressException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.IO_ERROR);
                        assertThat(e.permanent()).isFalse();
                        assertThat(e.getMessage()).contains("cannot connect");
                    });
        }
    }

    @Test
    void listsByPrefixInKeyOrder() {
        store.putBytes(prefix + "list/b.json", "{}".getBytes(StandardCharsets.UTF_8), "application/json");
        store.putBytes(prefix + "list/a/deep.bin", new byte[7], "application/octet-stream");
        store.putBytes(prefix + "other.bin", new byte[1], "application/octet-stream");

        List<StoredObject> listed = store.list(prefix + "list/");
        assertThat(listed).extracting(StoredObject::key).containsExactly(prefix + "list/a/deep.bin", prefix + "list/b.json");
        assertThat(listed.get(0).bytes()).isEqualTo(7);
        assertThat(listed.get(0).lastModified()).isNotNull();
    }

    @Test
    void copyKeepsTheShaOrComputesItForForeignObjects() throws Exception {
        ArtifactRef ours = store.put(prefix + "ours.bin", randomFile("ours.bin", 50_000, 5));
        ArtifactRef copied = store.copy(ours.key(), prefix + "copy/ours.bin");
        assertThat(copied).isEqualTo(new ArtifactRef(ours.bucket(), prefix + "copy/ours.bin", ours.sha256(), ours.bytes()));
        assertThat(store.stat(copied.key())).contains(copied);

        // a user's drop through any S3 client carries no sha256 metadata
        byte[] dropped = "a user's model".getBytes(StandardCharsets.UTF_8);
        try (MinioClient plain = MinioClient.builder().endpoint(endpoints.s3Endpoint())
                .credentials(endpoints.s3AccessKey(), endpoints.s3SecretKey()).build()) {
            plain.putObject(PutObjectArgs.builder().bucket(endpoints.bucket()).object(prefix + "incoming/m.onnx")
                    .stream(new ByteArrayInputStream(dropped), dropped.length, -1).build());
        }
        assertThat(store.stat(prefix + "incoming/m.onnx")).get().extracting(ArtifactRef::sha256).isNull();
        ArtifactRef adopted = store.copy(prefix + "incoming/m.onnx", prefix + "input/m.onnx");
        assertThat(adopted.sha256()).isEqualTo(Sha256.of(dropped));
        assertThat(store.stat(prefix + "input/m.onnx")).contains(adopted);
        assertThat(store.get(adopted, dir.resolve("m.onnx"))).hasBinaryContent(dropped);
    }

    @Test
    void copyOfAMissingObjectIsPermanent() {
        assertThatThrownBy(() -> store.copy(prefix + "none", prefix + "none-copy"))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.permanent()).isTrue());
    }

    record Doc(String runId, int stageIndex, Map<String, Object> values) {
    }

    @Test
    void jsonDocumentsRoundTripInSnakeCase() {
        Doc doc = new Doc("r1", 2, Map.of("ratio", 0.5));
        ArtifactRef ref = store.putJson(prefix + "doc.json", doc);

        assertThat(store.getJson(prefix + "doc.json", Doc.class)).contains(doc);
        assertThat(store.getJson(prefix + "nothing.json", Doc.class)).isEmpty();
        assertThat(new String(store.getJson(prefix + "doc.json", Map.class).map(Object::toString).orElseThrow()))
                .contains("run_id", "stage_index");
        assertThat(ref.bytes()).isPositive();
    }

    @Test
    void ensureBucketCreatesAMissingBucketOnceAndIsIdempotent() {
        String bucket = "mp-" + UUID.randomUUID().toString().substring(0, 8);
        try (ArtifactStore fresh = new ArtifactStore(settings(endpoints).withBucket(bucket))) {
            fresh.ensureBucket();
            fresh.ensureBucket();
            ArtifactRef ref = fresh.putBytes("k", new byte[] {1, 2, 3}, "application/octet-stream");
            assertThat(ref.bucket()).isEqualTo(bucket);
            assertThat(fresh.exists("k")).isTrue();
        }
        assertThat(Optional.of(store.bucket())).contains(endpoints.bucket());
    }

    private Path randomFile(String name, long size, long seed) throws IOException {
        Path file = dir.resolve("src-" + name);
        Random random = new Random(seed);
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long left = size; left > 0; left -= chunk.length) {
                random.nextBytes(chunk);
                out.write(chunk, 0, (int) Math.min(chunk.length, left));
            }
        }
        return file;
    }
}
