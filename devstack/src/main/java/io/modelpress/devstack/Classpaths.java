package io.modelpress.devstack;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The classpaths of the child JVMs. The build writes them (maven-dependency-plugin build-classpath) into this
 * module's jar as absolute paths in the local Maven repository, so the services start without Maven and without
 * the broker's jars on the classpath of whoever uses devstack.
 */
final class Classpaths {

    private Classpaths() {}

    /** Kafka's jars plus devstack's own classes (for {@link KafkaLauncher}). */
    static List<Path> kafka() {
        List<Path> classpath = new ArrayList<>(fromResource("kafka.classpath"));
        classpath.add(devstackClasses());
        return classpath;
    }

    /** The shaded S3Proxy jar. */
    static List<Path> s3proxy() {
        return fromResource("s3proxy.classpath");
    }

    private static List<Path> fromResource(String name) {
        String text;
        try (InputStream in = Classpaths.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new DevStackException("devstack was built without its " + name + " file; build it with"
                        + " './mvnw -pl devstack install' (the build writes the file in generate-resources)");
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            throw new DevStackException("Cannot read devstack's " + name + ": " + e.getMessage(), e);
        }
        List<Path> entries = Arrays.stream(text.split(File.pathSeparator))
                .filter(entry -> !entry.isBlank())
                .map(Path::of)
                .toList();
        for (Path entry : entries) {
            if (!Files.exists(entry)) {
                throw new DevStackException("devstack's " + name + " names " + entry + ", which does not exist (was the"
                        + " local Maven repository cleaned or moved?)."
                        + " Rebuild devstack: './mvnw -pl devstack install'");
            }
        }
        return entries;
    }

    /** The jar or classes directory devstack's classes are loaded from ({@link ChildJvm} adds it for tied children). */
    static Path devstackClasses() {
        try {
            return Path.of(Classpaths.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            throw new DevStackException("Cannot locate devstack's own classes: " + e.getMessage(), e);
        }
    }
}
