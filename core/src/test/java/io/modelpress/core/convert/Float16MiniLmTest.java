package io.modelpress.core.convert;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** all-MiniLM-L6-v2 in float16: half the size, sentence embeddings practically unchanged. */
class Float16MiniLmTest {
    @TempDir
    Path dir;

    @Test
    void float16MiniLmIsHalfTheSizeWithTheSameEmbeddings() throws Exception {
        Path original = ReferenceModels.minilm();
        OnnxModel model = OnnxModel.read(original);
        ConversionReport report = Float16Converter.convert(model, Float16Converter.Options.DEFAULT);
        Path converted = dir.resolve("minilm-fp16.onnx");
        model.write(converted);

        double sizeRatio = (double) Files.size(converted) / Files.size(original);
        assertThat(sizeRatio).isBetween(0.45, 0.55);
        assertThat(report.convertedNodes()).isGreaterThan(300);
        assertThat(report.castsInserted()).isLessThanOrEqualTo(4); // at the float32 output and the mask, not inside
        List<String> sentences = SentenceEmbeddings.sentences(Integer.MAX_VALUE);
        assertThat(sentences).hasSizeGreaterThanOrEqualTo(500);
        try (SentenceEmbeddings fp32 = new SentenceEmbeddings(original);
             SentenceEmbeddings fp16 = new SentenceEmbeddings(converted)) {
            double[] cosine = SentenceEmbeddings.cosines(fp32.embed(sentences, 32), fp16.embed(sentences, 32));
            System.out.printf("MiniLM fp16: %.1f%% of fp32 size, cosine mean %.6f min %.6f over %d sentences; %s%n",
                    100 * sizeRatio, cosine[0], cosine[1], sentences.size(), report.toJson());
            assertThat(cosine[0]).isGreaterThanOrEqualTo(0.9999);
            assertThat(cosine[1]).isGreaterThanOrEqualTo(0.999);
            // latency is measured on request only (-Dmodelpress.latency=true): tests judge behaviour, not speed
            for (int[] shape : Boolean.getBoolean("modelpress.latency") ? new int[][] {{1, 32}, {32, 128}} : new int[0][]) {
                int runs = shape[0] == 1 ? 50 : 5;
                System.out.printf("latency %dx%d tokens, 1 thread: fp32 %.1f ms, fp16 %.1f ms%n", shape[0], shape[1],
                        fp32.latencyMillis(shape[0], shape[1], runs), fp16.latencyMillis(shape[0], shape[1], runs));
            }
        }
        OnnxChecker.assertValid(converted);
    }
}
