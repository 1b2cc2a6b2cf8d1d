package io.modelpress.core.fuzz;

import io.modelpress.core.TempFiles;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Locale;

/**
 * The long run of {@link ModelFuzzer}: {@code -Dfuzz.cases=N} (20,000) cases from {@code -Dfuzz.seed=S}, written to
 * {@code -Dfuzz.out=FILE} (bench/results/fuzz.md). Command: bench/README.md, "Hostile model files".
 */
public final class FuzzBench {
    private FuzzBench() {
    }

    public static void main(String[] args) throws Exception {
        int cases = Integer.getInteger("fuzz.cases", 20_000);
        long seed = Long.getLong("fuzz.seed", 1L);
        Path out = Path.of(System.getProperty("fuzz.out", "../bench/results/fuzz.md"));
        Path work = TempFiles.createDirectory("modelpress-fuzz-");
        long heapBefore = usedHeap();
        long start = System.nanoTime();
        ModelFuzzer.Summary summary;
        try {
            summary = new ModelFuzzer(ModelFuzzTest.seedModels(), work, 20_000).run(seed, cases);
        } finally {
            TempFiles.deleteTree(work);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long heapAfter = usedHeap();
        StringBuilder md = new StringBuilder("# Mutation fuzzing of model files\n\n");
        md.append(String.format(Locale.ROOT, "Measured %s, %d cores, Java %s. Command: see bench/README.md, \"Hostile model "
                        + "files\" (`-Dfuzz.cases=%d -Dfuzz.seed=%d`).%n%n", LocalDate.now(), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"), cases, seed));
        md.append("Each case is one of four valid models (an MLP with initializers, one with Constant-node weights, a CNN, a model "
                + "with an If subgraph) with random mutations: half the cases 1-4 byte mutations (bit flips, overwritten, deleted, "
                + "duplicated or truncated ranges, a huge varint), half 1-3 mutations of the parsed model that keep it "
                + "well-formed protobuf (a dimension, an input name, an operator, an attribute, a removed initializer or "
                + "node, a duplicated output, an element type, the opset or IR version), then read and validated, measured as `inspect` does, and quantized to dynamic INT8. "
                + "A case passes when it succeeds or ends in a clear ModelPress error within 20 s.\n\n");
        md.append("| outcome | cases |\n|---|---|\n");
        md.append(String.format(Locale.ROOT, "| read, inspected and quantized | %,d |%n", summary.accepted()));
        summary.rejectedByCode().forEach((code, n) -> md.append(String.format(Locale.ROOT, "| refused: %s | %,d |%n", code, n)));
        md.append(String.format(Locale.ROOT, "| **crash or hang (findings)** | **%,d** |%n%n", summary.findings().size()));
        md.append(String.format(Locale.ROOT, "%,d cases in %.0f s (%.1f ms each); heap in use %,d MB before, %,d MB after.%n",
                cases, seconds, 1000 * seconds / cases, heapBefore >> 20, heapAfter >> 20));
        for (ModelFuzzer.Finding f : summary.findings()) {
            md.append("\n- seed ").append(f.seed()).append(", ").append(f.target()).append(":\n\n```\n").append(f.problem()).append("\n```\n");
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md);
        System.out.print(md);
        System.out.println("written to " + out);
        System.exit(summary.findings().isEmpty() ? 0 : 1);
    }

    private static long usedHeap() {
        System.gc();
        var heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        return heap.getUsed();
    }
}
