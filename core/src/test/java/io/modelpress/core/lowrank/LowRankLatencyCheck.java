package io.modelpress.core.lowrank;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Quick standalone check (not a test, not the bench): all-MiniLM-L6-v2 with its FFN MatMuls factorized at
 * {@code lowrank.ratio} (default 0.5): time to factorize, MACs per token, cosine of mean-pooled embeddings to fp32 on
 * the eval sentences, and ONNX Runtime latency (1 thread, wall and thread CPU time) of fp32 and factorized models,
 * interleaved round by round; ratios are medians over rounds of factorized / fp32. Run from core/ (see bench/README.md for the classpath):
 * {@code java -cp target/test-classes:target/classes:$(cat target/cp.txt) io.modelpress.core.lowrank.LowRankLatencyCheck}.
 * Options: {@code lowrank.ratio}, {@code lowrank.rounds} (default 15), {@code lowrank.sentences} (default 256).
 */
public final class LowRankLatencyCheck {
    /** FFN in (intermediate) and FFN out (output.dense, not attention.output.dense) of every layer. */
    static final Pattern FFN = Pattern.compile(".*/intermediate/dense/MatMul|/encoder/layer\\.\\d+/output/dense/MatMul");

    private LowRankLatencyCheck() {
    }

    public static void main(String[] args) throws Exception {
        double ratio = Double.parseDouble(System.getProperty("lowrank.ratio", "0.5"));
        int rounds = Integer.getInteger("lowrank.rounds", 15);
        int sentences = Integer.getInteger("lowrank.sentences", 256);
        Path fp32 = ReferenceModels.minilm();
        OnnxModel model = OnnxModel.read(fp32);
        NodeSelector ffn = new NodeSelector(List.of(), List.of(), List.of(FFN), List.of(), List.of(), List.of());
        long start = System.nanoTime();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(ratio).withSelector(ffn));
        double seconds = (System.nanoTime() - start) / 1e9;
        Path factorized = Files.createTempDirectory("lowrank").resolve("minilm-lowrank.onnx");
        model.write(factorized);
        System.out.printf(Locale.ROOT, "factorized %d nodes (ranks %s) in %.1f s, report included%n", report.factorized().size(),
                report.factorized().stream().map(LowRankReport.Factorized::rank).distinct().toList(), seconds);
        System.out.printf(Locale.ROOT, "MACs per token %d -> %d (%.1f %%), parameters %d -> %d, bytes %d -> %d%n",
                report.before().macs(), report.after().macs(), 100.0 * report.after().macs() / report.before().macs(),
                report.before().parameters(), report.after().parameters(), report.before().bytes(), report.after().bytes());
        System.out.printf(Locale.ROOT, "retained energy per node: %s%n", report.factorized().stream()
                .map(f -> String.format(Locale.ROOT, "%.3f", f.retainedEnergy())).toList());

        List<String> texts = SentenceEmbeddings.sentences(sentences);
        try (SentenceEmbeddings original = new SentenceEmbeddings(fp32);
             SentenceEmbeddings lowRank = new SentenceEmbeddings(factorized)) {
            double[] cosine = SentenceEmbeddings.cosines(original.embed(texts, 32), lowRank.embed(texts, 32));
            System.out.printf(Locale.ROOT, "cosine to fp32 on %d sentences: mean %.5f, min %.5f%n", texts.size(), cosine[0], cosine[1]);
        }
        try (OrtSession original = session(fp32); OrtSession lowRank = session(factorized)) {
            for (int[] shape : new int[][] {{32, 128}, {1, 32}}) {
                double[] wall = new double[rounds];
                double[] cpu = new double[rounds];
                double[][] times = new double[2][rounds];
                for (int r = 0; r < rounds; r++) {
                    double[] a = time(original, shape[0], shape[1]);
                    double[] b = time(lowRank, shape[0], shape[1]);
                    times[0][r] = a[0];
                    times[1][r] = b[0];
                    wall[r] = b[0] / a[0];
                    cpu[r] = b[1] / a[1];
                }
                System.out.printf(Locale.ROOT, "latency %dx%d, 1 thread: fp32 %.2f ms, low-rank %.2f ms; low-rank / fp32: wall %.3f, "
                        + "CPU time %.3f (medians of %d interleaved rounds)%n", shape[0], shape[1], median(times[0]), median(times[1]),
                        median(wall), median(cpu), rounds);
            }
        }
    }

    private static OrtSession session(Path model) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            return OrtEnvironment.getEnvironment().createSession(model.toString(), options);
        }
    }

    /**
     * Wall and CPU milliseconds per run on made-up token ids (all tokens attended), after one warm-up run; with
     * one thread ONNX Runtime computes on the calling thread, so its CPU time is what the run cost, whatever else the
     * machine was doing.
     */
    private static double[] time(OrtSession session, int batch, int tokens) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        long[] ids = new long[batch * tokens];
        long[] mask = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1000 + (i * 7919L) % 20000;
            mask[i] = 1;
        }
        long[] shape = {batch, tokens};
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        try (OnnxTensor idTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
             OnnxTensor maskTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
             OnnxTensor typeTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape)) {
            Map<String, OnnxTensor> feeds = Map.of("input_ids", idTensor, "attention_mask", maskTensor, "token_type_ids", typeTensor);
            session.run(feeds).close();
            int runs = Math.max(1, 1024 / (batch * tokens)); // short inputs: several runs per measurement
            long wall = System.nanoTime();
            long cpu = threads.getCurrentThreadCpuTime();
            for (int i = 0; i < runs; i++) {
                session.run(feeds).close();
            }
            return new double[] {(System.nanoTime() - wall) / 1e6 / runs, (threads.getCurrentThreadCpuTime() - cpu) / 1e6 / runs};
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
