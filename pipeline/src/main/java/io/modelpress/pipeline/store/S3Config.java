package io.modelpress.pipeline.store;

import io.smallrye.config.WithDefault;

import java.time.Duration;

/**
 * The artifact store's configuration keys ({@code modelpress.s3.*}), read the same way by every ModelPress service:
 * a group of their {@code @ConfigMapping} (SmallRye Config parses and checks the values; each key may also come from
 * the environment, e.g. {@code MODELPRESS_S3_ENDPOINT}). Defaults equal {@link S3Settings}'s.
 */
public interface S3Config {
    /** S3 endpoint URL, e.g. {@code http://127.0.0.1:9000}. */
    String endpoint();

    String accessKey();

    String secretKey();

    @WithDefault(S3Settings.DEFAULT_BUCKET)
    String bucket();

    @WithDefault(S3Settings.DEFAULT_REGION)
    String region();

    /** Multipart part size in MiB, 5 or more: files larger than this upload in parts. */
    @WithDefault("16")
    int partSizeMib();

    @WithDefault("10s")
    Duration connectTimeout();

    @WithDefault("2m")
    Duration ioTimeout();

    default S3Settings settings() {
        return new S3Settings(endpoint(), accessKey(), secretKey(), bucket(), region(),
                partSizeMib() * (1L << 20), connectTimeout(), ioTimeout());
    }
}
