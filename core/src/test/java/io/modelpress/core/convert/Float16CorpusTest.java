package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.transform.OnnxTestCase;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Float16 conversion over the ONNX operator conformance data (Debian libonnx-testdata): every model that computes in
 * float32 and that ONNX Runtime runs must still load and run after conversion, keep its float32 interface, and pass the
 * onnx checker. Outputs are compared loosely: float16 is a precision change, and some operators (Exp, Pow, Log near
 * zero, Reciprocal) amplify it by design, so the test counts close results instead of requiring all.
 */
class Float16CorpusTest {
    @TempDir
    Path dir;

    @Test
    void convertedCorpusModelsLoadRunAndMostlyAgree() throws Exception {
        Path corpus = OnnxTestCase.CORPUS;
        Assumptions.assumeTrue(Files.isDirectory(corpus), "libonnx-testdata absent: apt-get install libonnx-testdata");
        int converted = 0;
        int close = 0;
        Map<String, Integer> skipped = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        List<String> far = new ArrayList<>();
        List<Path> checkable = new ArrayList<>();
        for (Path caseDir : OnnxTestCase.all()) {
            String name = caseDir.getParent().getFileName() + "/" + caseDir.getFileName();
            Path file = caseDir.resolve("model.onnx");
            OnnxModel model;
            List<Map<String, TensorProto>> inputs;
            List<OnnxTestCase.Outputs> expected;
            try {
                model = OnnxModel.read(file);
                inputs = OnnxTestCase.load(caseDir, model).inputSets();
                expected = OnnxTestCase.run(file, inputs);
            } catch (Exception e) {
                skipped.merge("not read by ModelPress or not run by ONNX Runtime at all", 1, Integer::sum);
                continue;
            }
            ConversionReport report;
            try {
                report = Float16Converter.convert(model, Float16Converter.Options.DEFAULT);
            } catch (ModelPressException e) {
                failures.add(name + ": conversion failed: " + e.getMessage());
                continue;
            }
            if (report.convertedNodes() == 0 && report.tensorsConverted() == 0) {
                skipped.merge("nothing in float32 to convert", 1, Integer::sum);
                continue;
            }
            Path out = dir.resolve(caseDir.getParent().getFileName() + "-" + caseDir.getFileName() + ".onnx");
            model.write(out);
            List<OnnxTestCase.Outputs> actual;
            try {
                actual = OnnxTestCase.run(out, inputs);
            } catch (Exception e) {
                failures.add(name + ": ONNX Runtime cannot run the float16 model: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
                continue;
            }
            converted++;
            String difference = null;
            for (int i = 0; i < expected.size() && difference == null; i++) {
                difference = looseDifference(expected.get(i), actual.get(i));
            }
            if (difference == null) {
                close++;
            } else {
                far.add(name + ": " + difference);
            }
            if (model.opset("") <= 17) {
                checkable.add(out);
            }
        }
        System.out.printf("float16 over the corpus: %d models converted and run, %d within 1%% of float32, skipped %s%n",
                converted, close, skipped);
        far.forEach(f -> System.out.println("  not within 1%: " + f));
        assertThat(failures).isEmpty();
        assertThat(converted).isGreaterThanOrEqualTo(400);
        assertThat(close).isGreaterThanOrEqualTo((int) (converted * 0.9));
        Assumptions.assumeTrue(OnnxChecker.available(), "onnx checker absent");
        OnnxChecker.assertValid(checkable.toArray(Path[]::new));
    }

    /** Null when every float output is within 1% (relative to the output's largest magnitude) and the rest equal. */
    private static String looseDifference(OnnxTestCase.Outputs expected, OnnxTestCase.Outputs actual) {
        for (var e : expected.values().entrySet()) {
            Object a = actual.values().get(e.getKey());
            if (e.getValue() instanceof OnnxTestCase.FloatValues fe && a instanceof OnnxTestCase.FloatValues fa) {
                if (!fe.shape().equals(fa.shape())) {
                    return e.getKey() + ": shape " + fe.shape() + " vs " + fa.shape();
                }
                double scale = 0;
                for (double v : fe.values()) {
                    scale = Double.isFinite(v) ? Math.max(scale, Math.abs(v)) : scale;
                }
                for (int i = 0; i < fe.values().length; i++) {
                    double x = fe.values()[i];
                    double y = fa.values()[i];
                    boolean sameSpecial = Double.compare(x, y) == 0;
                    if (!sameSpecial && !(Math.abs(x - y) <= 1e-3 + 0.01 * scale)) {
                        return e.getKey() + "[" + i + "]: " + x + " vs " + y;
                    }
                }
            } else if (!String.valueOf(e.getValue()).equals(String.valueOf(a))) {
                return e.getKey() + ": non-float output differs";
            }
        }
        return null;
    }
}
