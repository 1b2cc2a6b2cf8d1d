package io.modelpress.orchestrator;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Run ids. A dropped object's run id is derived from the object's identity (bucket, key, version or ETag), so the same
 * upload seen twice - a redelivered notification, the poller and a notification both, a restart - maps to the run
 * that already exists and starts nothing new. The runs topic, which survives restarts, is thus also the dedup record.
 */
public final class RunIds {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private RunIds() {
    }

    /** @param version the object's version id where the bucket is versioned, else its ETag */
    public static String forObject(String bucket, String key, String version) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest((bucket + "\n" + key + "\n" + version).getBytes(StandardCharsets.UTF_8));
            return "run-" + HEX.formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** A fresh id for a run submitted through the API. */
    public static String random() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return "run-" + HEX.formatHex(bytes);
    }

    public static boolean valid(String runId) {
        return runId != null && runId.matches("run-[0-9a-f]{16}");
    }
}
