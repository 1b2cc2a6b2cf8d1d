package io.modelpress.cli;

import io.modelpress.stack.Stack;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.concurrent.Callable;

@Command(name = "down", mixinStandardHelpOptions = true,
        description = "Stop the local stack: the services first (SIGTERM, SIGKILL after 30 seconds), then devstack. Data (runs, "
                + "objects, topics) stays in the stack directory for the next 'up'.")
final class DownCommand implements Callable<Integer> {
    @Mixin
    StackOptions stack;

    @Override
    public Integer call() {
        PrintWriter out = stack.out();
        Stack local = stack.existingStack();
        out.println("services:");
        local.stopServices(out);
        out.println("devstack (Kafka + S3):");
        out.flush();
        if (Files.isDirectory(stack.directory().devstack().root())) {
            local.devstackDown(out);
        } else {
            out.println("  not running");
        }
        out.flush();
        return 0;
    }
}
