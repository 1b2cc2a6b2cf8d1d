package io.modelpress.pipeline.store;

import java.time.Instant;

/** An object as a listing shows it (no user metadata, hence no sha256: use ArtifactStore.stat for a ref). */
public record StoredObject(String key, long bytes, String etag, Instant lastModified) {
}
