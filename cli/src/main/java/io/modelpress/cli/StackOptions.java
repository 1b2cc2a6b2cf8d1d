package io.modelpress.cli;

import io.modelpress.devstack.ChildJvm.Lifetime;
import io.modelpress.devstack.Endpoints;
import io.modelpress.devstack.StackDirectory;
import io.modelpress.stack.ApiClient;
import io.modelpress.stack.Service;
import io.modelpress.stack.Stack;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * What the commands that work with a stack share (a picocli mixin): {@code --dir} and {@code --api}, and from them
 * the local stack, its endpoints and the orchestrator's client; with the {@link Console} of every command.
 */
final class StackOptions {
    static final String DEFAULT_API = "http://127.0.0.1:8080";

    @Option(names = "--dir", paramLabel = "D", description = "the local stack's directory: logs, pid files, devstack data "
            + "(default: .modelpress in the project)")
    Path dir;

    @Option(names = "--api", paramLabel = "URL", description = "the orchestrator's URL (default: $MODELPRESS_API, else the "
            + "stack started by 'modelpress up', else " + DEFAULT_API + ")")
    String api;

    @Mixin
    Console console;

    PrintWriter out() {
        return console.out();
    }

    PrintWriter err() {
        return console.err();
    }

    /** The project checkout the launcher runs from (the ./modelpress script passes it); else the working directory. */
    static Path projectRoot() {
        return Path.of(System.getProperty("modelpress.home", ".")).toAbsolutePath().normalize();
    }

    StackDirectory directory() {
        return new StackDirectory(dir != null ? dir : projectRoot().resolve(".modelpress"));
    }

    /** How to run this command again for the same stack: {@code --dir D} when one was given. */
    String dirOption() {
        return dir == null ? "" : " --dir " + dir;
    }

    Map<String, String> stackProperties() {
        return directory().readStackProperties().orElse(Map.of());
    }

    String apiUrl() {
        if (api != null) {
            return api;
        }
        String fromEnv = System.getenv("MODELPRESS_API");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv;
        }
        return stackProperties().getOrDefault(StackDirectory.API_URL, DEFAULT_API);
    }

    /** The orchestrator's API at {@link #apiUrl()}, with its token: $MODELPRESS_API_TOKEN, else the local stack's. */
    ApiClient apiClient() {
        return new ApiClient(apiUrl(), apiToken());
    }

    private String apiToken() {
        String fromEnv = System.getenv("MODELPRESS_API_TOKEN");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv;
        }
        java.nio.file.Path file = directory().apiToken();
        try {
            return java.nio.file.Files.isRegularFile(file) ? java.nio.file.Files.readString(file).trim() : null;
        } catch (java.io.IOException e) {
            return null; // the API says what is missing
        }
    }

    /** The S3 endpoints of the local stack: its recorded properties, else devstack's endpoints file. */
    Endpoints s3Endpoints() {
        Map<String, String> p = stackProperties();
        if (p.containsKey(Endpoints.S3_ENDPOINT)) {
            return new Endpoints(p.get(Endpoints.KAFKA_BOOTSTRAP_SERVERS), p.get(Endpoints.S3_ENDPOINT),
                    p.get(Endpoints.S3_ACCESS_KEY), p.get(Endpoints.S3_SECRET_KEY), p.get(Endpoints.S3_BUCKET));
        }
        Path file = directory().devstack().endpointsFile();
        return Files.isRegularFile(file) ? Endpoints.readFrom(file) : null;
    }

    /** The local stack as recorded in the stack directory (its ports), for commands that act on what 'up' started. */
    Stack existingStack() {
        return stack(ports(null, null, null, null, null, null, null, null));
    }

    /** The local stack on these ports, its processes outliving this command. */
    Stack stack(Stack.Ports ports) {
        return new Stack(projectRoot(), directory(), ports, Lifetime.DETACHED);
    }

    /** Ports: those given, else those the running stack recorded, else the defaults. */
    Stack.Ports ports(Integer api, Integer quantize, Integer eval, Integer prune, Integer distill, Integer kafka, Integer controller, Integer s3) {
        Map<String, String> p = stackProperties();
        Stack.Ports d = Stack.Ports.DEFAULT;
        return new Stack.Ports(
                pick(api, p, Service.ORCHESTRATOR.id() + ".port", d.orchestrator()),
                pick(quantize, p, Service.QUANTIZE_WORKER.id() + ".port", d.quantizeWorker()),
                pick(eval, p, Service.EVAL_WORKER.id() + ".port", d.evalWorker()),
                pick(prune, p, Service.PRUNE_WORKER.id() + ".port", d.pruneWorker()),
                pick(distill, p, Service.DISTILL_WORKER.id() + ".port", d.distillWorker()),
                pick(kafka, p, "kafka.port", d.kafka()),
                pick(controller, p, "controller.port", d.controller()),
                pick(s3, p, "s3.port", d.s3()));
    }

    private static int pick(Integer given, Map<String, String> recorded, String key, int fallback) {
        if (given != null) {
            return given;
        }
        String value = recorded.get(key);
        return value == null ? fallback : Integer.parseInt(value.trim());
    }
}
