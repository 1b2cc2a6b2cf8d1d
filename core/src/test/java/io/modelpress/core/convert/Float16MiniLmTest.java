package io.modelpress.core.convert;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * all-MiniLM-L6-v2 in float16, converted as the {@code convert} stage does without data (checked on synthetic token
 * ids): half the size, sentence embeddings practically unchanged on 640 real sentences.
 */
class Float16MiniLmTest {
    @TempDir
    Path dir;

    @Test
    void float16MiniLmIsHalfTheSizeWithTheSameEmbeddings() throws Exception {
        Path original = ReferenceModels.minilm();
        OnnxModel model = OnnxModel.read(original);
        var synthetic = new DatasetCalibration(null, model.inputs(), DataOptions.DEFAULT.withLimit(AutoMixedPrecision.DEFAULT_SAMPLES));
        ConversionReport report = AutoMixedPrecision.convert(model, Float16Converter.Options.DEFAULT, new AutoMixedPrecision.Settings(
                synthetic, "synthetic inputs", AutoMixedPrecision.DEFAULT_SAMPLES, AutoMixedPrecision.DEFAULT_MIN_COSINE, 1));
        Path converted = dir.resolve("minilm-fp16.onnx");
        model.write(converted);

        double sizeRatio = (double) Files.size(converted) / Files.size(original);
        assertThat(sizeRatio).isBetween(0.45, 0.55);
        assertThat(report.convertedNodes()).isGreaterThan(300);
        assertThat(report.check().passed()).isTrue();
        // float32 stays where float16 cannot carry the values: the -3.4e38 mask, the LayerNorm squares, and readers of
        // squares that came near 65504 on the check data; casts only around those and at the float32 output
        assertThat(report.keptNodes()).extracting(ConversionReport.KeptNode::rule)
                .containsOnly(ConversionReport.Rule.RANGE, ConversionReport.Rule.OVERFLOW);
        assertThat(report.keptNodes()).filteredOn(k -> k.opType().equals("Pow")).hasSize(13);
        assertThat(report.keptNodes()).anySatisfy(k -> assertThat(k.reason()).contains("3.40282e+38"));
        assertThat(report.castsInserted()).isLessThanOrEqualTo(2 * report.keptNodes().size() + 1);
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
