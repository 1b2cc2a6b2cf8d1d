package io.modelpress.core.prune.sparse;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every sparsity method over the ONNX conformance models with constant MatMul, Gemm or Conv weights: each either
 * refuses with a ModelPressException or zeroes exactly what it reports, and ONNX Runtime runs the result on the case's
 * inputs with the original output names and shapes.
 */
class SparsityCorpusTest {
    @TempDir
    Path dir;

    @Test
    void everyMethodRefusesClearlyOrProducesARunnableModel() throws Exception {
        Assumptions.assumeTrue(WeightCorpus.available(), "libonnx-testdata absent: apt-get install libonnx-testdata");
        Map<String, SparsityOptions> methods = new LinkedHashMap<>();
        methods.put("magnitude", SparsityOptions.magnitude(0.5));
        methods.put("lamp", SparsityOptions.magnitude(0.5).withAllocation(SparsityOptions.Allocation.LAMP));
        methods.put("erk", SparsityOptions.magnitude(0.5).withAllocation(SparsityOptions.Allocation.ERK));
        methods.put("2:4", SparsityOptions.nOfM(2, 4));
        methods.put("block", SparsityOptions.block(2, 2, 0.5));
        List<WeightCorpus.Case> cases = WeightCorpus.cases(Set.of("MatMul", "Gemm", "Conv"), dir);
        Map<String, Integer> pruned = new TreeMap<>();
        Map<String, Integer> refused = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        List<Path> checkable = new ArrayList<>();
        for (WeightCorpus.Case c : cases) {
            for (var method : methods.entrySet()) {
                OnnxModel model = OnnxModel.read(c.model());
                SparsityReport report;
                try {
                    report = SparsityPruner.prune(model, method.getValue());
                } catch (ModelPressException e) {
                    refused.merge(method.getKey(), 1, Integer::sum);
                    assertThat(e.getMessage()).as(c.name()).isNotBlank();
                    continue;
                } catch (RuntimeException e) {
                    failures.add(c.name() + " " + method.getKey() + ": " + e);
                    continue;
                }
                for (SparsityReport.Layer layer : report.layers()) {
                    float[] values = model.floats(model.constant(layer.tensor()).orElseThrow());
                    long zeros = 0;
                    for (float v : values) {
                        zeros += v == 0 ? 1 : 0;
                    }
                    if (zeros != layer.zeros()) {
                        failures.add(c.name() + " " + method.getKey() + ": " + layer.tensor() + " holds " + zeros + " zeros, report says " + layer.zeros());
                    }
                    if (method.getKey().equals("magnitude") && layer.zeros() != Math.max(layer.zerosBefore(), Math.round(0.5 * layer.elements()))) {
                        failures.add(c.name() + " magnitude: " + layer.tensor() + " has " + layer.zeros() + " zeros of " + layer.elements());
                    }
                }
                Path out = dir.resolve(method.getKey().replace(':', '-') + "-" + c.model().getFileName() + "-" + pruned.size() + ".onnx");
                model.write(out);
                try {
                    List<OnnxTestCase.Outputs> actual = OnnxTestCase.run(out, c.inputs());
                    for (int i = 0; i < actual.size(); i++) {
                        if (!shapes(actual.get(i)).equals(shapes(c.expected().get(i)))) {
                            failures.add(c.name() + " " + method.getKey() + ": outputs " + shapes(actual.get(i)) + " vs " + shapes(c.expected().get(i)));
                        }
                    }
                } catch (Exception e) {
                    failures.add(c.name() + " " + method.getKey() + ": ONNX Runtime cannot run the result: "
                            + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
                    continue;
                }
                pruned.merge(method.getKey(), 1, Integer::sum);
                if (model.opset("") <= 17) {
                    checkable.add(out);
                }
            }
        }
        System.out.printf("sparsity over the corpus: %d candidate models; pruned and run %s, refused %s%n", cases.size(), pruned, refused);
        assertThat(failures).isEmpty();
        assertThat(pruned.getOrDefault("magnitude", 0)).isGreaterThanOrEqualTo(10);
        assertThat(pruned.getOrDefault("2:4", 0)).isGreaterThanOrEqualTo(3);
        Assumptions.assumeTrue(OnnxChecker.available(), "onnx checker absent");
        OnnxChecker.assertValid(checkable.toArray(Path[]::new));
    }

    /** Output names with their shapes (values may differ after pruning). */
    private static Map<String, String> shapes(OnnxTestCase.Outputs outputs) {
        Map<String, String> shapes = new LinkedHashMap<>();
        outputs.values().forEach((name, value) -> shapes.put(name,
                value instanceof OnnxTestCase.FloatValues f ? f.shape() : value.getClass().getSimpleName()));
        return shapes;
    }
}
