package io.modelpress.pipeline.store;

import java.time.Duration;
import java.util.Objects;

/**
 * How to reach the artifact store.
 *
 * @param endpoint       S3 endpoint URL, e.g. {@code http://127.0.0.1:9000}
 * @param bucket         the bucket ModelPress keeps everything in (created when missing)
 * @param region         signing region; S3-compatible servers accept {@code us-east-1}
 * @param partSize       multipart part size in bytes (5 MiB .. 5 GiB); files larger than this upload in parts, and
 *                       the client buffers one part in memory while it signs it
 * @param connectTimeout how long to wait for a TCP connection
 * @param ioTimeout      how long a read or write may stall before the request fails (transient)
 */
public record S3Settings(String endpoint, String accessKey, String secretKey, String bucket, String region,
                         long partSize, Duration connectTimeout, Duration ioTimeout) {
    public static final String DEFAULT_BUCKET = "modelpress";
    public static final String DEFAULT_REGION = "us-east-1";
    public static final long DEFAULT_PART_SIZE = 16L << 20;
    public static final long MIN_PART_SIZE = 5L << 20;
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_IO_TIMEOUT = Duration.ofMinutes(2);

    public S3Settings {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(accessKey, "accessKey");
        Objects.requireNonNull(secretKey, "secretKey");
        bucket = bucket == null || bucket.isBlank() ? DEFAULT_BUCKET : bucket;
        region = region == null || region.isBlank() ? DEFAULT_REGION : region;
        if (partSize < MIN_PART_SIZE) {
            throw new IllegalArgumentException("S3 part size must be at least 5 MiB, got " + partSize + " bytes");
        }
        connectTimeout = connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout;
        ioTimeout = ioTimeout == null ? DEFAULT_IO_TIMEOUT : ioTimeout;
    }

    /** Endpoint, credentials and bucket; defaults for the rest. */
    public static S3Settings of(String endpoint, String accessKey, String secretKey, String bucket) {
        return new S3Settings(endpoint, accessKey, secretKey, bucket, DEFAULT_REGION, DEFAULT_PART_SIZE,
                DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT);
    }

    public S3Settings withBucket(String newBucket) {
        return new S3Settings(endpoint, accessKey, secretKey, newBucket, region, partSize, connectTimeout, ioTimeout);
    }

    public S3Settings withSecretKey(String newSecretKey) {
        return new S3Settings(endpoint, accessKey, newSecretKey, bucket, region, partSize, connectTimeout, ioTimeout);
    }

    @Override
    public String toString() {
        // never print the secret
        return "S3Settings[endpoint=" + endpoint + ", bucket=" + bucket + ", region=" + region + ", partSize=" + partSize + "]";
    }
}
