package io.modelpress.core.lowrank;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.WeightCorpus;
import io.modelpress.core.transform.OnnxTestCase;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Full-rank factorization over the ONNX conformance models with constant MatMul or Gemm weights (Gemm with transA,
 * transB, alpha, beta, broadcast C; MatMul on 1-D to 4-D inputs): ONNX Runtime must compute the original outputs from
 * the two products; a model the pass cannot handle must be refused with a ModelPressException or left unchanged.
 */
class LowRankCorpusTest {
    @TempDir
    Path dir;

    @Test
    void fullRankFactorizationReproducesEveryCase() throws Exception {
        Assumptions.assumeTrue(WeightCorpus.available(), "libonnx-testdata absent: apt-get install libonnx-testdata");
        List<WeightCorpus.Case> cases = WeightCorpus.cases(Set.of("MatMul", "Gemm"), dir);
        List<String> failures = new ArrayList<>();
        List<Path> checkable = new ArrayList<>();
        int factorized = 0;
        for (WeightCorpus.Case c : cases) {
            OnnxModel model = OnnxModel.read(c.model());
            LowRankReport report;
            try {
                report = LowRank.factorize(model, LowRankOptions.rankRatio(1.0).withOnlyWhereFewerMacs(false));
            } catch (ModelPressException e) {
                assertThat(e.getMessage()).as(c.name()).isNotBlank();
                continue;
            } catch (RuntimeException e) {
                failures.add(c.name() + ": " + e);
                continue;
            }
            if (report.factorized().isEmpty()) {
                continue;
            }
            Path out = dir.resolve("lowrank-" + factorized + "-" + c.model().getFileName());
            model.write(out);
            try {
                List<OnnxTestCase.Outputs> actual = OnnxTestCase.run(out, c.inputs());
                for (int i = 0; i < actual.size(); i++) {
                    String difference = closeEnough(c.expected().get(i), actual.get(i));
                    if (difference != null) {
                        failures.add(c.name() + ": " + difference);
                    }
                }
            } catch (Exception e) {
                failures.add(c.name() + ": ONNX Runtime cannot run the result: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
                continue;
            }
            factorized++;
            if (model.opset("") <= 17) {
                checkable.add(out);
            }
        }
        System.out.printf("low rank over the corpus: %d candidate models, %d factorized and reproduced%n", cases.size(), factorized);
        assertThat(failures).isEmpty();
        assertThat(factorized).isGreaterThanOrEqualTo(8);
        Assumptions.assumeTrue(OnnxChecker.available(), "onnx checker absent");
        OnnxChecker.assertValid(checkable.toArray(Path[]::new));
    }

    /** Same names and shapes, and every float within 1e-4 of the largest magnitude of its output (float32 rounding). */
    private static String closeEnough(OnnxTestCase.Outputs expected, OnnxTestCase.Outputs actual) {
        for (var e : expected.values().entrySet()) {
            Object a = actual.values().get(e.getKey());
            if (!(e.getValue() instanceof OnnxTestCase.FloatValues fe) || !(a instanceof OnnxTestCase.FloatValues fa)) {
                if (!e.getValue().equals(a)) {
                    return e.getKey() + " differs";
                }
                continue;
            }
            if (!fe.shape().equals(fa.shape())) {
                return e.getKey() + ": shape " + fe.shape() + " vs " + fa.shape();
            }
            double scale = 0;
            for (double v : fe.values()) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int i = 0; i < fe.values().length; i++) {
                if (Math.abs(fe.values()[i] - fa.values()[i]) > 1e-4 * Math.max(scale, 1e-6)) {
                    return e.getKey() + "[" + i + "]: " + fe.values()[i] + " vs " + fa.values()[i];
                }
            }
        }
        return null;
    }
}
