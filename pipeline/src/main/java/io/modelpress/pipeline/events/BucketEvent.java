package io.modelpress.pipeline.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * One record of an S3 event notification, in the JSON shape MinIO publishes to Kafka (AWS S3's record layout with
 * MinIO's top-level {@code EventName}/{@code Key}). Object keys arrive URL-encoded ({@code incoming%2Fbert%2Fmodel.onnx},
 * spaces as {@code +}); {@link #key} is decoded. The bucket poller writes the same JSON for stores that cannot notify.
 *
 * @param eventName e.g. {@code s3:ObjectCreated:Put}, {@code s3:ObjectCreated:CompleteMultipartUpload}
 * @param etag      the object's ETag without quotes (an MD5 for single-part uploads, {@code <md5>-<parts>} for multipart)
 * @param versionId the object version where the bucket is versioned, else null
 * @param time      when the event happened, or null when the record does not say
 */
public record BucketEvent(String eventName, String bucket, String key, long size, String etag, String versionId,
                          Instant time) {

    private static final String OBJECT_CREATED = "s3:ObjectCreated:";

    public boolean objectCreated() {
        return eventName != null && eventName.startsWith(OBJECT_CREATED);
    }

    /** The Kafka key of the bucket-events topic: {@code bucket/key}, so one object's events stay ordered. */
    public String kafkaKey() {
        return bucket + "/" + key;
    }

    /**
     * The records of one notification. A notification without records (S3's {@code s3:TestEvent}) gives an empty
     * list; a record without bucket name or key is a malformed notification.
     */
    public static List<BucketEvent> parse(byte[] json) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "bucket notification", "is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "bucket notification", "is not a JSON object");
        }
        List<BucketEvent> events = new ArrayList<>();
        JsonNode records = root.path("Records");
        for (int i = 0; i < records.size(); i++) {
            events.add(parseRecord(records.get(i), "bucket notification Records[" + i + "]"));
        }
        return events;
    }

    private static BucketEvent parseRecord(JsonNode record, String where) {
        JsonNode s3 = record.path("s3");
        String bucket = s3.path("bucket").path("name").asText(null);
        String encodedKey = s3.path("object").path("key").asText(null);
        if (bucket == null || encodedKey == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "has no s3.bucket.name or s3.object.key");
        }
        JsonNode object = s3.path("object");
        return new BucketEvent(record.path("eventName").asText(null), bucket,
                URLDecoder.decode(encodedKey, StandardCharsets.UTF_8), object.path("size").asLong(0),
                unquote(object.path("eTag").asText(null)), emptyToNull(object.path("versionId").asText(null)),
                parseTime(record.path("eventTime").asText(null)));
    }

    /** A notification holding this one record, as MinIO would publish it. */
    public byte[] toNotificationJson() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("EventName", eventName);
        root.put("Key", bucket + "/" + key);
        ArrayNode records = root.putArray("Records");
        ObjectNode record = records.addObject();
        record.put("eventVersion", "2.0");
        record.put("eventSource", "modelpress:poller");
        record.put("eventTime", (time == null ? Instant.now() : time).toString());
        record.put("eventName", eventName);
        ObjectNode s3 = record.putObject("s3");
        s3.put("s3SchemaVersion", "1.0");
        ObjectNode bucketNode = s3.putObject("bucket");
        bucketNode.put("name", bucket);
        bucketNode.put("arn", "arn:aws:s3:::" + bucket);
        ObjectNode object = s3.putObject("object");
        object.put("key", URLEncoder.encode(key, StandardCharsets.UTF_8));
        object.put("size", size);
        if (etag != null) {
            object.put("eTag", etag);
        }
        if (versionId != null) {
            object.put("versionId", versionId);
        }
        return Json.write(root);
    }

    /** S3 listings quote ETags ({@code "abc"}); notifications do not. Both compare equal once unquoted. */
    public static String unquote(String etag) {
        if (etag == null || etag.isEmpty()) {
            return null;
        }
        return etag.length() >= 2 && etag.startsWith("\"") && etag.endsWith("\"") ? etag.substring(1, etag.length() - 1) : etag;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static Instant parseTime(String text) {
        if (text == null || text.isEmpty()) {
            return null;
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
