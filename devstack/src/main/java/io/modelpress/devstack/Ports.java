package io.modelpress.devstack;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** The loopback ports the stack listens on. */
record Ports(int kafka, int controller, int s3) {

    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    static final Ports DEFAULT = new Ports(9092, 9093, 9000);

    Ports {
        checkRange(kafka, "Kafka broker");
        checkRange(controller, "Kafka controller");
        checkRange(s3, "S3");
        if (kafka == controller || kafka == s3 || controller == s3) {
            throw new DevStackException(
                    "The Kafka broker, Kafka controller and S3 ports must differ, got "
                            + kafka + ", " + controller + ", " + s3);
        }
    }

    /** Three ports that nothing listens on right now, chosen by the operating system. */
    static Ports free() {
        // All three sockets are open at once, so the system hands out three different ports.
        try (ServerSocket a = bindLoopback(0); ServerSocket b = bindLoopback(0); ServerSocket c = bindLoopback(0)) {
            return new Ports(a.getLocalPort(), b.getLocalPort(), c.getLocalPort());
        } catch (IOException e) {
            throw new DevStackException("Cannot find free loopback ports: " + e.getMessage(), e);
        }
    }

    /** Fails with a message naming the port and its use when something already listens on one of them. */
    void requireAvailable() {
        requireAvailable(kafka, "Kafka broker", "--kafka-port");
        requireAvailable(controller, "Kafka controller", "--controller-port");
        requireAvailable(s3, "S3", "--s3-port");
    }

    private static void requireAvailable(int port, String use, String option) {
        try {
            bindLoopback(port).close();
        } catch (IOException e) {
            throw new DevStackException("Port " + port + " (" + use + ") on " + LOOPBACK.getHostAddress()
                    + " is already in use. Stop whatever listens there, or choose another port with " + option + ".");
        }
    }

    private static ServerSocket bindLoopback(int port) throws IOException {
        ServerSocket socket = new ServerSocket();
        // Without reuse, a port still in TIME_WAIT from a stopped broker counts as taken, though the broker
        // (which sets SO_REUSEADDR) could bind it.
        socket.setReuseAddress(true);
        try {
            socket.bind(new InetSocketAddress(LOOPBACK, port));
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    private static void checkRange(int port, String use) {
        if (port < 1 || port > 65535) {
            throw new DevStackException("The " + use + " port must be between 1 and 65535, got " + port);
        }
    }
}
