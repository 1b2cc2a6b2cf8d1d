package io.modelpress.pipeline.events;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/** CloudEvents 1.0 binary-mode Kafka headers (ce_type, ce_source, ce_id, ce_time, ce_specversion, content-type). */
public final class CloudEvents {
    public static final String STAGE_REQUEST = "io.modelpress.stage.request";
    public static final String STAGE_PROGRESS = "io.modelpress.stage.progress";
    public static final String STAGE_RESULT = "io.modelpress.stage.result";
    public static final String RUN_STATE = "io.modelpress.run.state";
    public static final String BUCKET_EVENT = "io.modelpress.bucket.event";

    private CloudEvents() {
    }

    public static Map<String, byte[]> headers(String type, String source) {
        Map<String, byte[]> headers = new LinkedHashMap<>();
        headers.put("ce_specversion", bytes("1.0"));
        headers.put("ce_id", bytes(UUID.randomUUID().toString()));
        headers.put("ce_type", bytes(type));
        headers.put("ce_source", bytes(source));
        headers.put("ce_time", bytes(Instant.now().toString()));
        headers.put("content-type", bytes("application/json"));
        return headers;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
