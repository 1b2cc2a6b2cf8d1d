package io.modelpress.pipeline.store;

import io.modelpress.core.Sha256;
import io.minio.BucketExistsArgs;
import io.minio.CopyObjectArgs;
import io.minio.CopySource;
import io.minio.Directive;
import io.minio.GetObjectArgs;
import io.minio.GetObjectResponse;
import io.minio.ListObjectsArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.minio.Result;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import io.minio.errors.ErrorResponseException;
import io.minio.messages.Item;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Artifacts in one S3 bucket, each stored with its SHA-256 in the user metadata ({@code x-amz-meta-sha256}) so a
 * ref can be rebuilt from the object alone. Uploads and downloads stream (multipart above the part size); every
 * download is verified against its ref. Failures are {@link ModelPressException}s: {@code IO_ERROR} when retrying
 * can help, {@code BAD_ARGUMENT} when it cannot (see {@link StoreErrors}). Thread-safe.
 */
public final class ArtifactStore implements AutoCloseable {
    /** User-metadata key holding the object's SHA-256 (lowercase hex). */
    public static final String SHA256_METADATA = "sha256";
    private static final String OCTET_STREAM = "application/octet-stream";
    private static final String JSON = "application/json";
    private static final int BUFFER = 1 << 20;

    private final S3Settings settings;
    private final OkHttpClient http;
    private final MinioClient client;

    public ArtifactStore(S3Settings settings) {
        this.settings = settings;
        this.http = new OkHttpClient.Builder()
                .connectTimeout(settings.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .readTimeout(settings.ioTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .writeTimeout(settings.ioTimeout().toMillis(), TimeUnit.MILLISECONDS)
                // our callers retry with backoff and know what is idempotent; no silent retries underneath
                .retryOnConnectionFailure(false)
                // Without silent retries, a pooled connection the server has closed while idle (S3Proxy's Jetty after
                // 30 s, load balancers sooner) fails the next request with "unexpected end of stream"; reuse only
                // connections idle for less than any server keeps them.
                .connectionPool(new ConnectionPool(8, 5, TimeUnit.SECONDS))
                .build();
        this.client = MinioClient.builder()
                .endpoint(settings.endpoint())
                .credentials(settings.accessKey(), settings.secretKey())
                .region(settings.region())
                .httpClient(http)
                .build();
    }

    public String bucket() {
        return settings.bucket();
    }

    /** Whether the bucket exists: a cheap round trip for readiness checks. */
    public boolean bucketExists() {
        try {
            return client.bucketExists(BucketExistsArgs.builder().bucket(bucket()).build());
        } catch (Exception e) {
            throw StoreErrors.classify(e, "s3://" + bucket(), "cannot be reached");
        }
    }

    /** Creates the bucket unless it exists (safe to call from several processes at once). */
    public void ensureBucket() {
        String place = "s3://" + bucket();
        try {
            if (!client.bucketExists(BucketExistsArgs.builder().bucket(bucket()).build())) {
                client.makeBucket(MakeBucketArgs.builder().bucket(bucket()).region(settings.region()).build());
            }
        } catch (ErrorResponseException e) {
            String code = e.errorResponse() == null ? "" : e.errorResponse().code();
            if (!"BucketAlreadyOwnedByYou".equals(code) && !"BucketAlreadyExists".equals(code)) {
                throw StoreErrors.classify(e, place, "cannot be created");
            }
        } catch (Exception e) {
            throw StoreErrors.classify(e, place, "cannot be created");
        }
    }

    /**
     * Uploads a file, streaming (multipart above the part size). The SHA-256 is computed in a first read of the
     * local file, because S3 takes user metadata only when an upload begins; the upload stream is hashed again and
     * a file that changed in between fails the upload rather than storing bytes that do not match their ref.
     */
    public ArtifactRef put(String key, Path file) {
        String place = place(bucket(), key);
        try {
            long size = Files.size(file);
            String sha256 = Sha256.of(file);
            MessageDigest sent = Sha256.digest();
            try (InputStream in = new DigestInputStream(Files.newInputStream(file), sent)) {
                client.putObject(PutObjectArgs.builder()
                        .bucket(bucket()).object(key)
                        .stream(in, size, settings.partSize())
                        .contentType(key.endsWith(".json") ? JSON : OCTET_STREAM)
                        .userMetadata(Map.of(SHA256_METADATA, sha256))
                        .build());
            }
            String sentSha256 = Sha256.hex(sent);
            if (!sentSha256.equals(sha256)) {
                throw new ModelPressException(ErrorCode.IO_ERROR, place,
                        "cannot be uploaded: " + file + " changed while it was being uploaded");
            }
            return new ArtifactRef(bucket(), key, sha256, size);
        } catch (Exception e) {
            throw StoreErrors.classify(e, place, "cannot be uploaded from " + file);
        }
    }

    /** Uploads a small in-memory object. */
    public ArtifactRef putBytes(String key, byte[] bytes, String contentType) {
        String place = place(bucket(), key);
        String sha256 = Sha256.of(bytes);
        try {
            client.putObject(PutObjectArgs.builder()
                    .bucket(bucket()).object(key)
                    .stream(new ByteArrayInputStream(bytes), bytes.length, -1)
                    .contentType(contentType)
                    .userMetadata(Map.of(SHA256_METADATA, sha256))
                    .build());
            return new ArtifactRef(bucket(), key, sha256, bytes.length);
        } catch (Exception e) {
            throw StoreErrors.classify(e, place, "cannot be uploaded");
        }
    }

    /** Stores a document as JSON with the pipeline's mapping ({@link Json}). */
    public ArtifactRef putJson(String key, Object document) {
        return putBytes(key, Json.write(document), JSON);
    }

    /**
     * Reads a small JSON document, or empty when there is no object under the key. When the object carries a
     * SHA-256 (everything this store wrote does), the bytes are verified against it.
     */
    public <T> Optional<T> getJson(String key, Class<T> type) {
        return getBytes(key).map(bytes -> Json.read(bytes, type));
    }

    /**
     * Reads a small object whole (a report, a JSON document), or empty when there is none; verified against its
     * SHA-256 when it carries one.
     */
    public Optional<byte[]> getBytes(String key) {
        Optional<ArtifactRef> ref = stat(key);
        if (ref.isEmpty()) {
            return Optional.empty();
        }
        String place = place(bucket(), key);
        byte[] bytes;
        try (GetObjectResponse in = client.getObject(GetObjectArgs.builder().bucket(bucket()).object(key).build())) {
            bytes = in.readAllBytes();
        } catch (Exception e) {
            throw StoreErrors.classify(e, place, "cannot be read");
        }
        String expected = ref.get().sha256();
        if (expected != null && !expected.equals(Sha256.of(bytes))) {
            throw mismatch(place, expected, Sha256.of(bytes), bytes.length);
        }
        return Optional.of(bytes);
    }

    /**
     * Downloads an artifact to {@code target}, streaming, and verifies its size and SHA-256 against the ref. The
     * bytes go to {@code target.part} first; on any failure, a mismatch included, that file is removed and
     * {@code target} is left as it was.
     */
    public Path get(ArtifactRef ref, Path target) {
        String place = place(ref.bucket(), ref.key());
        if (ref.sha256() == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, place,
                    "has no sha256 in its ref, so it cannot be verified; refs come from ArtifactStore.put/stat/copy");
        }
        Path partial = target.resolveSibling(target.getFileName() + ".part");
        try {
            Files.createDirectories(target.toAbsolutePath().getParent());
            MessageDigest digest = Sha256.digest();
            long bytes = 0;
            try (GetObjectResponse in = client.getObject(GetObjectArgs.builder().bucket(ref.bucket()).object(ref.key()).build());
                 OutputStream out = Files.newOutputStream(partial)) {
                byte[] buffer = new byte[BUFFER];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digest.update(buffer, 0, n);
                    out.write(buffer, 0, n);
                    bytes += n;
                }
            }
            String actual = Sha256.hex(digest);
            if (bytes != ref.bytes() || !actual.equals(ref.sha256())) {
                throw mismatch(place, ref.sha256() + " (" + ref.bytes() + " bytes)", actual, bytes);
            }
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (Exception e) {
            deleteQuietly(partial);
            throw StoreErrors.classify(e, place, "cannot be downloaded");
        }
    }

    /**
     * The object under {@code key} as a ref, or empty when there is none. Its sha256 comes from the user metadata:
     * null for objects that were not written through this store (user drops); {@link #copy} gives those one.
     */
    public Optional<ArtifactRef> stat(String key) {
        try {
            StatObjectResponse stat = client.statObject(StatObjectArgs.builder().bucket(bucket()).object(key).build());
            return Optional.of(new ArtifactRef(bucket(), key, stat.userMetadata().get(SHA256_METADATA), stat.size()));
        } catch (ErrorResponseException e) {
            int status = e.response() == null ? 0 : e.response().code();
            String code = e.errorResponse() == null ? "" : e.errorResponse().code();
            if (status == 404 || "NoSuchKey".equals(code) || "NoSuchObject".equals(code)) {
                return Optional.empty();
            }
            throw StoreErrors.classify(e, place(bucket(), key), "cannot be inspected");
        } catch (Exception e) {
            throw StoreErrors.classify(e, place(bucket(), key), "cannot be inspected");
        }
    }

    public boolean exists(String key) {
        return stat(key).isPresent();
    }

    /** Every object whose key starts with {@code prefix}, in key order (listing is paged underneath). */
    public List<StoredObject> list(String prefix) {
        List<StoredObject> objects = new ArrayList<>();
        try {
            for (Result<Item> result : client.listObjects(
                    ListObjectsArgs.builder().bucket(bucket()).prefix(prefix).recursive(true).build())) {
                Item item = result.get();
                if (!item.isDir()) {
                    objects.add(new StoredObject(item.objectName(), item.size(), unquote(item.etag()),
                            item.lastModified() == null ? null : item.lastModified().toInstant()));
                }
            }
            return objects;
        } catch (Exception e) {
            throw StoreErrors.classify(e, place(bucket(), prefix + "*"), "cannot be listed");
        }
    }

    /**
     * Copies an object inside the bucket on the server and returns the copy's ref. An object without a recorded
     * SHA-256 (a user's upload) is hashed first by streaming it once; the copy is conditional on the ETag seen at
     * that time, so an object replaced meanwhile fails the copy (transient) instead of pairing new bytes with an
     * old hash.
     */
    public ArtifactRef copy(String sourceKey, String targetKey) {
        String place = place(bucket(), sourceKey);
        try {
            StatObjectResponse stat = client.statObject(StatObjectArgs.builder().bucket(bucket()).object(sourceKey).build());
            String sha256 = stat.userMetadata().get(SHA256_METADATA);
            if (sha256 == null) {
                try (GetObjectResponse in = client.getObject(GetObjectArgs.builder()
                        .bucket(bucket()).object(sourceKey).matchETag(stat.etag()).build())) {
                    sha256 = Sha256.of(in);
                }
            }
            client.copyObject(CopyObjectArgs.builder()
                    .bucket(bucket()).object(targetKey)
                    .source(CopySource.builder().bucket(bucket()).object(sourceKey).matchETag(stat.etag()).build())
                    .metadataDirective(Directive.REPLACE)
                    .userMetadata(Map.of(SHA256_METADATA, sha256))
                    .build());
            return new ArtifactRef(bucket(), targetKey, sha256, stat.size());
        } catch (Exception e) {
            throw StoreErrors.classify(e, place, "cannot be copied to " + targetKey);
        }
    }

    /** Deletes an object; deleting one that does not exist is not an error. */
    public void delete(String key) {
        try {
            client.removeObject(io.minio.RemoveObjectArgs.builder().bucket(bucket()).object(key).build());
        } catch (Exception e) {
            throw StoreErrors.classify(e, place(bucket(), key), "cannot be deleted");
        }
    }

    @Override
    public void close() {
        http.dispatcher().executorService().shutdown();
        http.connectionPool().evictAll();
    }

    static String place(String bucket, String key) {
        return "s3://" + bucket + "/" + key;
    }

    private static ModelPressException mismatch(String place, String expected, String actual, long bytes) {
        // Transient on purpose: a corrupted transfer heals on retry; a stored object that really differs from its
        // ref fails every retry and ends in the dead-letter queue with this message.
        return new ModelPressException(ErrorCode.IO_ERROR, place,
                "sha256 mismatch: the ref says " + expected + " but the stored bytes hash to " + actual + " (" + bytes
                        + " bytes); the object was changed or corrupted after the ref was made");
    }

    private static String unquote(String etag) {
        return etag == null ? null : etag.replace("\"", "");
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: the caller's temp folder is removed as a whole
        }
    }
}
