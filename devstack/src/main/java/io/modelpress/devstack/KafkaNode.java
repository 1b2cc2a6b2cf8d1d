package io.modelpress.devstack;

import io.modelpress.devstack.ChildJvm.Lifetime;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A single-node Kafka (KRaft, broker and controller in one process) in a child JVM. */
final class KafkaNode {

    static final String NAME = "Kafka broker";
    /** Its name in the stack directory (log and pid file). */
    static final String PROCESS = "kafka";
    /** What the broker logs once it is started and unfenced, i.e. serves clients. */
    private static final String READY_LINE = "Kafka Server started";
    /** Any 16 bytes, base64url without padding (these spell "modelpress-devst"); fixed, so restarts reuse the data. */
    private static final String CLUSTER_ID = "bW9kZWxwcmVzcy1kZXZzdA";

    private static final List<String> JVM_OPTIONS = List.of(
            // The default initial heap, 1/64 of the machine's memory, costs ~90 MB of RSS and saves no time.
            "-Xms64m",
            "-Xmx512m",
            // C1 only: start-up matters more than peak throughput for a development broker.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
            // The config dumps are hundreds of lines per client and server.
            "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config=warn");

    private KafkaNode() {}

    static ChildJvm launch(StackDirectory directory, Ports ports, Lifetime lifetime) {
        Path config = directory.kafkaHome().resolve("server.properties");
        writeConfig(config, directory.kafkaHome().resolve("data"), ports);
        return ChildJvm.start(directory, PROCESS, new ChildJvm.Launch(Classpaths.kafka(), KafkaLauncher.class.getName(),
                List.of(config.toString(), CLUSTER_ID), JVM_OPTIONS, Map.of(), null), lifetime);
    }

    static boolean isReady(ChildJvm kafka) {
        return kafka.logContains(READY_LINE);
    }

    static String bootstrapServers(Ports ports) {
        return Ports.LOOPBACK.getHostAddress() + ":" + ports.kafka();
    }

    private static void writeConfig(Path config, Path data, Ports ports) {
        String host = Ports.LOOPBACK.getHostAddress();
        String text = String.join("\n",
                "# written by ModelPress devstack at every start",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@" + host + ":" + ports.controller(),
                "listeners=PLAINTEXT://" + host + ":" + ports.kafka()
                        + ",CONTROLLER://" + host + ":" + ports.controller(),
                "advertised.listeners=PLAINTEXT://" + host + ":" + ports.kafka(),
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs=" + data,
                "num.partitions=1",
                // one broker: every internal topic has one replica; few partitions keep the first consumer group fast
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "share.coordinator.state.topic.num.partitions=1",
                "group.initial.rebalance.delay.ms=0",
                "");
        try {
            Files.createDirectories(config.getParent());
            Files.writeString(config, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DevStackException("Cannot write the Kafka config " + config + ": " + e.getMessage(), e);
        }
    }
}
