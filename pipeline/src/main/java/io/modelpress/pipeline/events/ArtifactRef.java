package io.modelpress.pipeline.events;

/** An object in the artifact store. Every consumer verifies {@code sha256} before using the bytes. */
public record ArtifactRef(String bucket, String key, String sha256, long bytes) {
    public String fileName() {
        int slash = key.lastIndexOf('/');
        return slash < 0 ? key : key.substring(slash + 1);
    }
}
