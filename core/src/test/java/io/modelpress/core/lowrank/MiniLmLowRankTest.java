package io.modelpress.core.lowrank;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * all-MiniLM-L6-v2's FFN MatMuls (384 x 1536 and 1536 x 384) at rank_ratio 0.5: rank 192, below the break-even
 * 384 x 1536 / 1920 = 307.2, so the MACs drop; the embeddings' cosine to fp32 is what the report gives the user.
 */
class MiniLmLowRankTest {
    @TempDir
    Path dir;

    @Test
    void halfRankFfnLowersMacsAndKeepsTheInterface() throws Exception {
        Path fp32 = ReferenceModels.minilm();
        OnnxModel original = OnnxModel.read(fp32);
        OnnxModel model = original.copy();
        NodeSelector ffn = new NodeSelector(List.of(), List.of(), List.of(LowRankLatencyCheck.FFN), List.of(), List.of(), List.of());
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(0.5).withSelector(ffn));
        Path file = dir.resolve("minilm-lowrank.onnx");
        model.write(file);

        assertThat(report.factorized()).hasSize(12).allSatisfy(f -> {
            assertThat(f.rank()).isEqualTo(192);
            assertThat(f.k() * f.n()).isEqualTo(384 * 1536);
            assertThat(f.retainedEnergy()).isBetween(0.5, 1.0);
        });
        assertThat(report.skipped()).hasSize(24).allSatisfy(s -> assertThat(s.reason()).isEqualTo("not in the recipe's include list"));
        // per token: 12 x (384 x 1536 - 192 x 1920) fewer
        assertThat(report.before().macs() - report.after().macs()).isEqualTo(12L * (384 * 1536 - 192 * 1920));
        assertThat(report.after().parameters()).isLessThan(report.before().parameters());
        assertThat(model.inputs()).isEqualTo(original.inputs());
        assertThat(model.outputs()).isEqualTo(original.outputs());

        List<String> sentences = SentenceEmbeddings.sentences(96);
        double[] cosine;
        try (SentenceEmbeddings before = new SentenceEmbeddings(fp32); SentenceEmbeddings after = new SentenceEmbeddings(file)) {
            cosine = SentenceEmbeddings.cosines(before.embed(sentences, 32), after.embed(sentences, 32));
        }
        // measured 0.686 / 0.563 on 256 sentences: half the FFN rank without fine-tuning costs this much; a wrong
        // factorization (transposed or mis-ordered factors) gives near 0
        assertThat(cosine[0]).as("mean cosine to fp32").isGreaterThan(0.6);
        assertThat(cosine[1]).as("min cosine to fp32").isGreaterThan(0.45);
        OnnxChecker.assertValid(file);
    }
}
