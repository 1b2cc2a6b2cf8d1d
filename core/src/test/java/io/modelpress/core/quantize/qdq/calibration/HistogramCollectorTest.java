package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.qdq.TestCnns;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class HistogramCollectorTest {
    private static final List<String> VALUES = List.of("input", "conv1.act", "conv2.pooled", "fc1.act", "logits");

    @Test
    void keepsHistogramsNotActivations() {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 1));
        HistogramCollector few = HistogramCollector.observe(model, VALUES, TestCnns.randomData("input", new long[] {1, 28, 28}, 1), 64, 1);
        HistogramCollector many = HistogramCollector.observe(model, VALUES, TestCnns.randomData("input", new long[] {1, 28, 28}, 1), 1024, 1);

        assertThat(few.samples()).isEqualTo(64);
        assertThat(many.samples()).isEqualTo(1024);
        assertThat(many.histogram("conv1.act").count()).isEqualTo(1024L * 8 * 28 * 28);
        assertThat(many.histogram("logits").count()).isEqualTo(1024L * 10);
        // sixteen times the samples, about the same memory: only rarer tiny values reach new powers of two
        assertThat(many.counterBytes()).isLessThan(few.counterBytes() * 3 / 2);
        assertThat(many.counterBytes()).isLessThanOrEqualTo(VALUES.size() * 2L * 254 * ValueHistogram.BUCKETS_PER_OCTAVE * Long.BYTES);
        // the input is uniform in [0, 1): exact extremes, no negative values
        ValueHistogram input = many.histogram("input");
        assertThat(input.min()).isGreaterThanOrEqualTo(0f);
        assertThat(input.max()).isLessThan(1f).isGreaterThan(0.999f);
        assertThat(input.magnitudes().quantile(0.5)).isBetween(0.49, 0.51);
    }
}
