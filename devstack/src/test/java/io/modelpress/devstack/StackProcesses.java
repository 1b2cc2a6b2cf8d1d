package io.modelpress.devstack;

import java.nio.file.Path;
import java.util.List;

/** Finds the live processes of a stack by the tag on their command lines, whoever started them. */
final class StackProcesses {

    private StackProcesses() {}

    static List<ProcessHandle> of(Path stackDirectory) {
        String tag = new StackDirectory(stackDirectory).tag("");
        return ProcessHandle.allProcesses()
                .filter(process -> process.info().commandLine().map(line -> line.contains(tag)).orElse(false))
                .toList();
    }
}
