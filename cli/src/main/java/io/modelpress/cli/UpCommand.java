package io.modelpress.cli;

import io.modelpress.devstack.Endpoints;
import io.modelpress.stack.Build;
import io.modelpress.stack.Stack;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "up", mixinStandardHelpOptions = true,
        description = {"Start the local stack in the background: devstack (Kafka + S3), the orchestrator, a quantize-worker, "
                + "an eval-worker, a prune-worker and a distill-worker, each a process with its log under <dir>/logs. Builds what is missing or older than "
                + "its sources first, and waits until every service is ready.",
                "Idempotent: what runs already is left alone, what is missing is started."})
final class UpCommand implements Callable<Integer> {
    @Mixin
    StackOptions stack;

    @Option(names = "--api-port", paramLabel = "N", description = "orchestrator HTTP port (default 8080)")
    Integer apiPort;

    @Option(names = "--quantize-port", paramLabel = "N", description = "quantize-worker HTTP port (default 8082)")
    Integer quantizePort;

    @Option(names = "--eval-port", paramLabel = "N", description = "eval-worker HTTP port (default 8084)")
    Integer evalPort;

    @Option(names = "--prune-port", paramLabel = "N", description = "prune-worker HTTP port (default 8086)")
    Integer prunePort;

    @Option(names = "--distill-port", paramLabel = "N", description = "distill-worker HTTP port (default 8087)")
    Integer distillPort;

    @Option(names = "--kafka-port", paramLabel = "N", description = "Kafka broker port (default 9092)")
    Integer kafkaPort;

    @Option(names = "--controller-port", paramLabel = "N", description = "Kafka controller port (default 9093)")
    Integer controllerPort;

    @Option(names = "--s3-port", paramLabel = "N", description = "S3 port (default 9000)")
    Integer s3Port;

    @Option(names = "--no-build", description = "never build; fail when an application is missing")
    boolean noBuild;

    @Override
    public Integer call() {
        up(stack, stack.ports(apiPort, quantizePort, evalPort, prunePort, distillPort, kafkaPort, controllerPort, s3Port), !noBuild, stack.out());
        return 0;
    }

    /** Builds (when asked and needed), starts devstack and the services, and prints where everything is. */
    static Stack up(StackOptions options, Stack.Ports ports, boolean build, PrintWriter out) {
        long start = System.nanoTime();
        if (build) {
            Build.ensureBuilt(StackOptions.projectRoot(), out);
        }
        Stack stack = options.stack(ports);
        stack.requirePortsFree();
        out.println("devstack (Kafka + S3):");
        out.flush();
        Endpoints endpoints = stack.devstackUp(out);
        out.println("services:");
        out.flush();
        stack.startServices(endpoints, out);
        out.printf(Locale.ROOT, "the stack is up (%.1f s)%n", (System.nanoTime() - start) / 1e9);
        out.println("  API     " + stack.apiUrl() + "/api/runs   (OpenAPI at " + stack.apiUrl() + "/q/openapi)");
        out.println("  S3      " + endpoints.s3Endpoint() + "  bucket " + endpoints.bucket() + ", access key "
                + endpoints.s3AccessKey() + ": drop models as incoming/<name>/model.onnx");
        out.println("  Kafka   " + endpoints.kafkaBootstrapServers());
        out.println("  logs    " + stack.directory().logs() + "/ and " + stack.directory().devstack().logs() + "/");
        out.println("stop it with: ./modelpress down" + options.dirOption());
        out.flush();
        return stack;
    }
}
