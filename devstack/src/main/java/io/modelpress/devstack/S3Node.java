package io.modelpress.devstack;

import io.modelpress.devstack.ChildJvm.Lifetime;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** S3Proxy serving the S3 API from a directory (its {@code filesystem} backend) in a child JVM. */
final class S3Node {

    static final String NAME = "S3Proxy";
    /** Its name in the stack directory (log and pid file). */
    static final String PROCESS = "s3proxy";
    private static final String MAIN_CLASS = "org.gaul.s3proxy.Main";
    private static final List<String> JVM_OPTIONS = List.of(
            "-Xms32m", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.awt.headless=true");

    private S3Node() {}

    static ChildJvm launch(StackDirectory directory, Ports ports, String accessKey, String secretKey, String bucket,
            Lifetime lifetime) {
        Path data = directory.s3Home().resolve("data");
        Path config = directory.s3Home().resolve("s3proxy.properties");
        try {
            // With the filesystem backend a bucket is a directory under the base directory: this creates the bucket.
            Files.createDirectories(data.resolve(bucket));
            Files.writeString(config, String.join("\n",
                    "# written by ModelPress devstack at every start",
                    "s3proxy.endpoint=" + endpoint(ports),
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + accessKey,
                    "s3proxy.credential=" + secretKey,
                    "jclouds.provider=filesystem",
                    "jclouds.filesystem.basedir=" + data,
                    ""), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DevStackException("Cannot prepare the S3Proxy directory " + directory.s3Home() + ": "
                    + e.getMessage(), e);
        }
        return ChildJvm.start(directory, PROCESS, new ChildJvm.Launch(Classpaths.s3proxy(), MAIN_CLASS,
                List.of("--properties", config.toString()), JVM_OPTIONS, Map.of(), null), lifetime);
    }

    static String endpoint(Ports ports) {
        return "http://" + Ports.LOOPBACK.getHostAddress() + ":" + ports.s3();
    }

    /** S3Proxy is serving when an unauthenticated request is refused with 403 Forbidden. */
    static boolean isReady(Ports ports) {
        HttpURLConnection connection = null;
        try {
            connection = (HttpURLConnection) URI.create(endpoint(ports) + "/").toURL().openConnection();
            connection.setConnectTimeout(1000);
            connection.setReadTimeout(2000);
            return connection.getResponseCode() == HttpURLConnection.HTTP_FORBIDDEN;
        } catch (IOException e) {
            return false;
        } finally {
            if (connection != null) {
                connection.disconnect();
            }
        }
    }
}
