package io.modelpress.core.lowrank;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.NodeSelector;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Quick standalone check (not a test, not the bench): all-MiniLM-L6-v2 with its FFN MatMuls factorized at
 * {@code lowrank.ratio} (default 0.5): time to factorize, MACs per token, cosine of mean-pooled embeddings to fp32 on
 * the eval sentences, and ONNX Runtime latency (1 thread) of fp32 and factorized models, interleaved round by round;
 * the ratio is the median over rounds of factorized / fp32. Run from core/ (see bench/README.md for the classpath):
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
            for (int[] shape : new int[][] {{32, 128}, {1, 32}}) {
                double[] ratios = new double[rounds];
                double[] fp32Times = new double[rounds];
                double[] lowRankTimes = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    fp32Times[r] = original.latencyMillis(shape[0], shape[1], 3);
                    lowRankTimes[r] = lowRank.latencyMillis(shape[0], shape[1], 3);
                    ratios[r] = lowRankTimes[r] / fp32Times[r];
                }
                System.out.printf(Locale.ROOT, "latency %dx%d, 1 thread: fp32 %.2f ms, low-rank %.2f ms, ratio %.3f (median of %d rounds)%n",
                        shape[0], shape[1], median(fp32Times), median(lowRankTimes), median(ratios), rounds);
            }
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
