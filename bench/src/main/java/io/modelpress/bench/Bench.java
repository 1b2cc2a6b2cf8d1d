package io.modelpress.bench;

import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;

/**
 * Runs one benchmark by its class name: {@code java -jar bench/target/modelpress-bench.jar PipelineBench [options]}.
 * Every benchmark is a class in this package with its own {@code main}; this only saves typing the class path.
 */
public final class Bench {
    private Bench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].startsWith("-")) {
            System.err.println("usage: java -jar bench/target/modelpress-bench.jar <benchmark> [options]");
            System.err.println("benchmarks: QuantizationBench (every quantization mode vs ONNX Runtime's own and fp32),");
            System.err.println("            PipelineBench (pipeline overhead and runs per minute on the local stack),");
            System.err.println("            PruningBench (every pruning pass on three CNNs and MiniLM, before fine-tuning),");
            System.err.println("            DistillBench (prune, distill, quantize on the Fashion-MNIST CNN)");
            System.exit(2);
        }
        Class<?> benchmark;
        try {
            benchmark = Class.forName(Bench.class.getPackageName() + "." + args[0]);
        } catch (ClassNotFoundException e) {
            System.err.println("no benchmark named " + args[0] + " in " + Bench.class.getPackageName());
            System.exit(2);
            return;
        }
        try {
            benchmark.getMethod("main", String[].class).invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }
}
