package io.modelpress.cli;

import io.modelpress.stack.Stack;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Say for each part of the local stack whether it runs, its pid, port and health.",
                "Exit code 0 when everything runs and is ready, 3 when something is not running or not ready."})
final class StatusCommand implements Callable<Integer> {
    static final int NOT_RUNNING = 3;

    @Mixin
    StackOptions stack;

    @Override
    public Integer call() {
        PrintWriter out = stack.out();
        Stack local = stack.existingStack();
        out.printf("%-16s %-8s %-8s %-6s %s%n", "SERVICE", "STATE", "PID", "PORT", "HEALTH (/q/health/ready)");
        List<Stack.ServiceStatus> services = local.status();
        for (Stack.ServiceStatus s : services) {
            out.printf("%-16s %-8s %-8s %-6d %s%n", s.service().id(), s.running() ? "running" : "stopped",
                    s.running() ? s.pid().toString() : "-", s.port(), s.health());
        }
        out.println("devstack:");
        out.flush();
        boolean devstackStarted = Files.isDirectory(stack.directory().devstack().root());
        int devstack = devstackStarted ? local.devstackStatus(out) : NOT_RUNNING;
        if (!devstackStarted) {
            out.println("  not running (never started in " + stack.directory().root() + ")");
        }
        boolean allUp = devstack == 0 && services.stream().allMatch(s -> s.readiness() == 200);
        if (allUp) {
            out.println("API: " + local.apiUrl());
        }
        out.flush();
        return allUp ? 0 : NOT_RUNNING;
    }
}
