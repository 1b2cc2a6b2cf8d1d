package io.modelpress.devstack;

import kafka.Kafka;
import kafka.tools.StorageTool;

/**
 * The main class of the Kafka child JVM: formats the storage directory on first use (what {@code kafka-storage.sh
 * format} does), then runs the broker (what {@code kafka-server-start.sh} does). One JVM instead of two saves a
 * JVM start-up.
 *
 * <p>Usage: {@code KafkaLauncher <server.properties> <cluster id>}
 */
public final class KafkaLauncher {

    private KafkaLauncher() {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: KafkaLauncher <server.properties> <cluster id>");
            System.exit(2);
        }
        String config = args[0];
        String clusterId = args[1];
        int formatted;
        try {
            formatted = StorageTool.execute(
                    new String[] {"format", "--config", config, "--cluster-id", clusterId, "--ignore-formatted"},
                    System.out);
        } catch (Exception e) {
            e.printStackTrace();
            formatted = 1;
        }
        if (formatted != 0) {
            // the last line of the log, which is what a failed start quotes first
            System.err.println("devstack: formatting the Kafka storage (log.dirs in " + config + ") failed");
            System.exit(formatted);
        }
        Kafka.main(new String[] {config});
    }
}
