package io.modelpress.devstack;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * How to reach a running stack: everything a Kafka client and an S3 client need.
 *
 * @param kafkaBootstrapServers Kafka bootstrap servers, {@code 127.0.0.1:<port>}
 * @param s3Endpoint            S3 endpoint URL, {@code http://127.0.0.1:<port>}
 * @param s3AccessKey           S3 access key (AWS signature v2 or v4)
 * @param s3SecretKey           S3 secret key
 * @param bucket                the bucket the stack creates at start-up
 */
public record Endpoints(
        String kafkaBootstrapServers, String s3Endpoint, String s3AccessKey, String s3SecretKey, String bucket) {

    public static final String KAFKA_BOOTSTRAP_SERVERS = "kafka.bootstrap.servers";
    public static final String S3_ENDPOINT = "s3.endpoint";
    public static final String S3_ACCESS_KEY = "s3.access-key";
    public static final String S3_SECRET_KEY = "s3.secret-key";
    public static final String S3_BUCKET = "s3.bucket";

    /** The endpoints under the property names above, in a stable order. */
    public Map<String, String> asMap() {
        Map<String, String> map = new LinkedHashMap<>();
        map.put(KAFKA_BOOTSTRAP_SERVERS, kafkaBootstrapServers);
        map.put(S3_ENDPOINT, s3Endpoint);
        map.put(S3_ACCESS_KEY, s3AccessKey);
        map.put(S3_SECRET_KEY, s3SecretKey);
        map.put(S3_BUCKET, bucket);
        return map;
    }

    /** Writes the endpoints as a properties file (the format of {@code endpoints.properties}). */
    public void writeTo(Path file) {
        StringBuilder text = new StringBuilder("# ModelPress devstack endpoints\n");
        asMap().forEach((key, value) -> text.append(key).append('=').append(value).append('\n'));
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            out.write(text.toString());
        } catch (IOException e) {
            throw new DevStackException("Cannot write the endpoints file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads a file written by {@link #writeTo(Path)}. */
    public static Endpoints readFrom(Path file) {
        Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(in);
        } catch (IOException e) {
            throw new DevStackException("Cannot read the endpoints file " + file + ": " + e.getMessage(), e);
        }
        return new Endpoints(
                required(properties, KAFKA_BOOTSTRAP_SERVERS, file),
                required(properties, S3_ENDPOINT, file),
                required(properties, S3_ACCESS_KEY, file),
                required(properties, S3_SECRET_KEY, file),
                required(properties, S3_BUCKET, file));
    }

    private static String required(Properties properties, String key, Path file) {
        String value = properties.getProperty(key);
        if (value == null || value.isBlank()) {
            throw new DevStackException("The endpoints file " + file + " has no value for '" + key + "'");
        }
        return value;
    }
}
