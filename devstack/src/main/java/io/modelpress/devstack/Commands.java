package io.modelpress.devstack;

import io.modelpress.devstack.ChildJvm.Lifetime;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The command line of {@link DevStack#main(String[])}: {@code up}, {@code status}, {@code down}. */
final class Commands {

    static final Path DEFAULT_DIRECTORY = Path.of(".modelpress", "devstack");
    /** Exit code of {@code status} when the stack is not (fully) running, as LSB init scripts use it. */
    static final int NOT_RUNNING = 3;
    private static final int USAGE = 2;

    private static final String HELP = """
            usage: java -jar modelpress-devstack.jar <command> [options]
              up      start Kafka and S3Proxy in the background and wait until both serve
              status  say whether they run and where
              down    stop them (data stays in the directory; delete it to start afresh)
            options:
              --dir D              stack directory: configs, data, logs, pid files, endpoints.properties
                                   (default .modelpress/devstack)
              --kafka-port N       Kafka broker port (up only; default 9092)
              --controller-port N  Kafka controller port (up only; default 9093)
              --s3-port N          S3 port (up only; default 9000)
            """;

    private Commands() {}

    private record Invocation(String command, StackDirectory directory, Ports ports) {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        Invocation invocation;
        try {
            invocation = parse(args);
        } catch (IllegalArgumentException e) {
            err.println("devstack: " + e.getMessage());
            err.print(HELP);
            return USAGE;
        }
        try {
            return switch (invocation.command()) {
                case "up" -> up(invocation, out);
                case "status" -> status(invocation.directory(), out);
                case "down" -> down(invocation.directory(), out);
                case "help", "--help", "-h" -> {
                    out.print(HELP);
                    yield 0;
                }
                default -> throw new IllegalStateException("unreachable: " + invocation.command());
            };
        } catch (DevStackException e) {
            err.println("devstack: " + e.getMessage());
            return 1;
        }
    }

    private static Invocation parse(String[] args) {
        if (args.length == 0) {
            throw new IllegalArgumentException("no command given");
        }
        String command = args[0];
        if (!command.matches("up|status|down|help|--help|-h")) {
            throw new IllegalArgumentException("unknown command '" + command + "'");
        }
        Path directory = DEFAULT_DIRECTORY;
        int kafka = Ports.DEFAULT.kafka();
        int controller = Ports.DEFAULT.controller();
        int s3 = Ports.DEFAULT.s3();
        for (int i = 1; i < args.length; i += 2) {
            String option = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("option " + option + " needs a value");
            }
            String value = args[i + 1];
            switch (option) {
                case "--dir" -> directory = Path.of(value);
                case "--kafka-port" -> kafka = port(option, value, command);
                case "--controller-port" -> controller = port(option, value, command);
                case "--s3-port" -> s3 = port(option, value, command);
                default -> throw new IllegalArgumentException("unknown option '" + option + "'");
            }
        }
        return new Invocation(command, new StackDirectory(directory), new Ports(kafka, controller, s3));
    }

    private static int port(String option, String value, String command) {
        if (!command.equals("up")) {
            throw new IllegalArgumentException(option + " applies to 'up' only");
        }
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " needs a port number, got '" + value + "'");
        }
    }

    private static int up(Invocation invocation, PrintStream out) {
        StackDirectory directory = invocation.directory();
        Optional<ChildJvm> kafka = ChildJvm.find(directory, KafkaNode.PROCESS);
        Optional<ChildJvm> s3 = ChildJvm.find(directory, S3Node.PROCESS);
        if (kafka.isPresent() && s3.isPresent() && Files.exists(directory.endpointsFile())) {
            out.println("devstack is already running in " + directory.root());
            printEndpoints(Endpoints.readFrom(directory.endpointsFile()), out);
            return 0;
        }
        if (kafka.isPresent() || s3.isPresent()) {
            out.println("devstack in " + directory.root() + " is half running; stopping what is left first");
            down(directory, out);
        }
        long started = System.nanoTime();
        DevStack stack = DevStack.start(directory.root(), invocation.ports(), Lifetime.DETACHED, false);
        out.printf("devstack is up in %s (%.1f s)%n", directory.root(), (System.nanoTime() - started) / 1e9);
        printEndpoints(stack.endpoints(), out);
        out.println("logs: " + directory.logs());
        out.println("stop it with: down --dir " + directory.root());
        return 0;
    }

    private static int status(StackDirectory directory, PrintStream out) {
        Optional<ChildJvm> kafka = ChildJvm.find(directory, KafkaNode.PROCESS);
        Optional<ChildJvm> s3 = ChildJvm.find(directory, S3Node.PROCESS);
        out.println("devstack in " + directory.root() + ":");
        out.println("  " + KafkaNode.NAME + ": " + describe(kafka));
        out.println("  " + S3Node.NAME + ": " + describe(s3));
        boolean running = kafka.isPresent() && s3.isPresent() && Files.exists(directory.endpointsFile());
        if (running) {
            printEndpoints(Endpoints.readFrom(directory.endpointsFile()), out);
        }
        return running ? 0 : NOT_RUNNING;
    }

    private static int down(StackDirectory directory, PrintStream out) {
        Map<String, String> names = Map.of(KafkaNode.PROCESS, KafkaNode.NAME, S3Node.PROCESS, S3Node.NAME);
        List<ChildJvm> running = new ArrayList<>();
        for (String process : List.of(KafkaNode.PROCESS, S3Node.PROCESS)) {
            ChildJvm.find(directory, process).ifPresentOrElse(running::add, () -> directory.deletePid(process));
        }
        ChildJvm.stopAll(running, DevStack.STOP_GRACE);
        running.forEach(child -> out.println("stopped " + names.get(child.name()) + " (pid " + child.pid() + ")"));
        try {
            Files.deleteIfExists(directory.endpointsFile());
        } catch (IOException e) {
            throw new DevStackException("Cannot delete " + directory.endpointsFile() + ": " + e.getMessage(), e);
        }
        if (running.isEmpty()) {
            out.println("devstack is not running in " + directory.root());
        }
        return 0;
    }

    private static String describe(Optional<ChildJvm> process) {
        return process.map(child -> "running (pid " + child.pid() + ")").orElse("not running");
    }

    private static void printEndpoints(Endpoints endpoints, PrintStream out) {
        endpoints.asMap().forEach((key, value) -> out.println("  " + key + "=" + value));
    }
}
