package io.modelpress.core.fuzz;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.stats.ModelStats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A seeded mutation fuzzer over valid ONNX models: each case is a valid model with a few random mutations (of its
 * bytes, or of its parsed structure: see {@link #mutate}), fed to the reader and validator, inspect's statistics and a
 * dynamic quantization. Every case must end in success or a
 * {@link ModelPressException} (a clear error) within the time limit; anything else - another exception, an error such
 * as OutOfMemoryError, a hang - is a finding, kept with its seed so that it can be replayed.
 */
public final class ModelFuzzer {
    /** One finding: the case's seed, what was running and what went wrong. */
    public record Finding(long seed, String target, String problem) {
    }

    /** Counts per outcome, and the findings. */
    public record Summary(int cases, int accepted, Map<String, Integer> rejectedByCode, List<Finding> findings) {
    }

    private static final String[] MUTATIONS = {"flip", "overwrite", "delete", "duplicate", "truncate", "varint"};

    private final List<byte[]> seeds;
    private final Path work;
    private final long perCaseMillis;

    /**
     * @param seeds         valid models' bytes to mutate
     * @param work          a folder for the cases' files
     * @param perCaseMillis the most one case may take before it counts as a hang
     */
    public ModelFuzzer(List<byte[]> seeds, Path work, long perCaseMillis) {
        this.seeds = List.copyOf(seeds);
        this.work = work;
        this.perCaseMillis = perCaseMillis;
    }

    /** Runs {@code cases} cases from {@code seed} (case i uses seed + i). */
    public Summary run(long seed, int cases) throws IOException {
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-case");
            t.setDaemon(true);
            return t;
        });
        int accepted = 0;
        Map<String, Integer> rejected = new LinkedHashMap<>();
        List<Finding> findings = new ArrayList<>();
        try {
            for (int i = 0; i < cases; i++) {
                long caseSeed = seed + i;
                byte[] bytes = mutate(caseSeed);
                Path dir = Files.createDirectories(work.resolve("case-" + caseSeed));
                Path file = Files.write(dir.resolve("model.onnx"), bytes);
                String[] target = {"read"};
                Future<?> future = executor.submit(() -> {
                    exercise(file, dir, target);
                    return null;
                });
                try {
                    future.get(perCaseMillis, TimeUnit.MILLISECONDS);
                    accepted++;
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof ModelPressException mpe && mpe.getMessage() != null && !mpe.getMessage().isBlank()) {
                        rejected.merge(mpe.code().name(), 1, Integer::sum);
                    } else {
                        findings.add(new Finding(caseSeed, target[0], describe(cause)));
                    }
                } catch (TimeoutException e) {
                    future.cancel(true);
                    findings.add(new Finding(caseSeed, target[0], "no answer within " + perCaseMillis + " ms"));
                    // a stuck case keeps its thread: carry on with a fresh one
                    executor.shutdownNow();
                    executor = Executors.newSingleThreadExecutor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
                io.modelpress.core.TempFiles.deleteTree(dir);
            }
        } finally {
            executor.shutdownNow();
        }
        return new Summary(cases, accepted, rejected, findings);
    }

    /**
     * The mutated bytes of one case (the same seed always gives the same bytes): half the cases mutate the bytes, half
     * the parsed model (a shape, an input name, an operator, an attribute, an initializer, a type), which keeps the
     * file well-formed protobuf and so reaches the validator and the passes behind it.
     */
    public byte[] mutate(long caseSeed) {
        Random random = new Random(caseSeed);
        byte[] seed = seeds.get(random.nextInt(seeds.size()));
        if (random.nextBoolean()) {
            try {
                return mutateStructure(ModelProto.parseFrom(seed), random).toByteArray();
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalStateException("a seed model does not parse", e);
            }
        }
        byte[] bytes = seed.clone();
        int mutations = 1 + random.nextInt(4);
        for (int m = 0; m < mutations && bytes.length > 2; m++) {
            int at = random.nextInt(bytes.length);
            int length = 1 + random.nextInt(Math.min(64, bytes.length - at));
            switch (MUTATIONS[random.nextInt(MUTATIONS.length)]) {
                case "flip" -> bytes[at] ^= (byte) (1 << random.nextInt(8));
                case "overwrite" -> {
                    for (int k = 0; k < length; k++) {
                        bytes[at + k] = (byte) random.nextInt(256);
                    }
                }
                case "delete" -> bytes = concat(slice(bytes, 0, at), slice(bytes, at + length, bytes.length));
                case "duplicate" -> bytes = concat(slice(bytes, 0, at + length), slice(bytes, at, bytes.length));
                case "truncate" -> bytes = slice(bytes, 0, at);
                default -> {
                    // a length or count prefix made huge: five bytes of a large varint
                    byte[] varint = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x0f};
                    bytes = concat(concat(slice(bytes, 0, at), varint), slice(bytes, Math.min(bytes.length, at + 1), bytes.length));
                }
            }
        }
        return bytes;
    }

    private static final String[] OPS = {"MatMul", "Gemm", "Conv", "Relu", "Add", "Mul", "Reshape", "Transpose", "Gather",
            "Concat", "Softmax", "BatchNormalization", "MaxPool", "Flatten", "NoSuchOp", ""};

    private static ModelProto mutateStructure(ModelProto model, Random random) {
        ModelProto.Builder builder = model.toBuilder();
        GraphProto.Builder graph = builder.getGraphBuilder();
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int nodes = graph.getNodeCount();
            int inits = graph.getInitializerCount();
            switch (random.nextInt(9)) {
                case 0 -> { // a dimension of an initializer changed (its data no longer matches) or made negative / huge
                    if (inits > 0) {
                        TensorProto.Builder t = graph.getInitializerBuilder(random.nextInt(inits));
                        if (t.getDimsCount() > 0) {
                            long[] choices = {0, -1, 1, 3, Integer.MAX_VALUE, Long.MAX_VALUE};
                            t.setDims(random.nextInt(t.getDimsCount()), choices[random.nextInt(choices.length)]);
                        }
                    }
                }
                case 1 -> { // a node input that names nothing, or is empty
                    if (nodes > 0) {
                        NodeProto.Builder n = graph.getNodeBuilder(random.nextInt(nodes));
                        if (n.getInputCount() > 0) {
                            n.setInput(random.nextInt(n.getInputCount()), random.nextBoolean() ? "" : "missing_" + random.nextInt(9));
                        }
                    }
                }
                case 2 -> { // another operator type
                    if (nodes > 0) {
                        graph.getNodeBuilder(random.nextInt(nodes)).setOpType(OPS[random.nextInt(OPS.length)]);
                    }
                }
                case 3 -> { // an attribute's value made extreme
                    if (nodes > 0) {
                        NodeProto.Builder n = graph.getNodeBuilder(random.nextInt(nodes));
                        if (n.getAttributeCount() > 0) {
                            AttributeProto.Builder a = n.getAttributeBuilder(random.nextInt(n.getAttributeCount()));
                            long[] extremes = {-1, 0, 1 << 30, Long.MIN_VALUE};
                            a.setI(extremes[random.nextInt(extremes.length)]).clearInts();
                            for (int k = 0; k < random.nextInt(5); k++) {
                                a.addInts(extremes[random.nextInt(extremes.length)]);
                            }
                        } else {
                            n.addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT)
                                    .setI(random.nextInt(9) - 4));
                        }
                    }
                }
                case 4 -> { // an initializer removed
                    if (inits > 0) {
                        graph.removeInitializer(random.nextInt(inits));
                    }
                }
                case 5 -> { // a node removed
                    if (nodes > 0) {
                        graph.removeNode(random.nextInt(nodes));
                    }
                }
                case 6 -> { // two nodes write the same value, or a node reads its own output
                    if (nodes > 1) {
                        NodeProto.Builder a = graph.getNodeBuilder(random.nextInt(nodes));
                        NodeProto.Builder b = graph.getNodeBuilder(random.nextInt(nodes));
                        if (a.getOutputCount() > 0 && b.getOutputCount() > 0) {
                            b.setOutput(0, a.getOutput(0));
                        }
                        if (a.getInputCount() > 0 && a.getOutputCount() > 0) {
                            a.setInput(0, a.getOutput(0));
                        }
                    }
                }
                case 7 -> { // an initializer's element type changed (its data stays)
                    if (inits > 0) {
                        int[] types = {1, 2, 3, 6, 7, 9, 10, 11, 16, 0, 99};
                        graph.getInitializerBuilder(random.nextInt(inits)).setDataType(types[random.nextInt(types.length)]);
                    }
                }
                default -> { // the opset or IR version moved
                    if (random.nextBoolean() && builder.getOpsetImportCount() > 0) {
                        builder.getOpsetImportBuilder(0).setVersion(random.nextInt(30) - 2);
                    } else {
                        builder.setIrVersion(random.nextInt(14) - 1);
                    }
                }
            }
        }
        return builder.build();
    }

    /** Reads (and validates) the model, computes inspect's statistics, then quantizes it dynamically. */
    private static void exercise(Path file, Path dir, String[] target) throws IOException {
        target[0] = "read";
        OnnxModel model = OnnxModel.read(file);
        target[0] = "inspect";
        ModelStats.of(file, model, ModelStats.Options.DEFAULT);
        target[0] = "quantize";
        StageSpec spec = RecipeParser.parse("stages:\n  - quantize: { mode: dynamic }\n", "fuzz.yaml").stages().get(0);
        Path stageDir = Files.createDirectories(dir.resolve("stage"));
        Stages.forType("quantize").run(new StageContext(spec, file, file, List.of(), null, stageDir, 1,
                (fraction, message) -> {
                }, io.modelpress.core.data.InputHints.NONE));
    }

    /** The exception and the first frames of ours it passed through (where the fix belongs). */
    private static String describe(Throwable t) {
        StringBuilder out = new StringBuilder(t.toString());
        int ours = 0;
        for (StackTraceElement frame : t.getStackTrace()) {
            if (frame.getClassName().startsWith("io.modelpress.") && ours++ < 4) {
                out.append("\n\tat ").append(frame);
            }
        }
        return out.toString();
    }

    private static byte[] slice(byte[] bytes, int from, int to) {
        return java.util.Arrays.copyOfRange(bytes, Math.min(from, bytes.length), Math.min(Math.max(from, to), bytes.length));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
