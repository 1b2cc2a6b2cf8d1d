package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ONNX operator conformance data (Debian libonnx-testdata, ONNX 1.12) as a judge of {@link OpsetUpgrade}: every
 * model below a target opset is upgraded, and ONNX Runtime must compute the same outputs from the upgraded model as
 * from the original on the cases' own inputs. Models ONNX Runtime cannot run at their own opset, and models this tool
 * does not read (opset below 7, training domains), are skipped and counted.
 */
class OpsetUpgradeCorpusTest {
    private static final long[] TARGETS = {13, 17, 21};

    @TempDir
    Path dir;

    /** Counts per target opset. */
    private static final class Tally {
        int below;
        int converted;
        final Map<String, Integer> skipped = new TreeMap<>();
        final List<String> unsupported = new ArrayList<>();
        final Map<String, Integer> rewrites = new TreeMap<>();

        void skip(String reason) {
            skipped.merge(reason, 1, Integer::sum);
        }
    }

    @Test
    void upgradedCorpusModelsComputeWhatTheOriginalsCompute() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(OnnxTestCase.CORPUS), "libonnx-testdata absent: apt-get install libonnx-testdata");
        Map<Long, Tally> tallies = new LinkedHashMap<>();
        for (long t : TARGETS) {
            tallies.put(t, new Tally());
        }
        Map<Long, List<Path>> upgradedFiles = new LinkedHashMap<>();
        List<String> failures = new ArrayList<>();
        for (Path caseDir : OnnxTestCase.all()) {
            String name = caseDir.getParent().getFileName() + "/" + caseDir.getFileName();
            Path file = caseDir.resolve("model.onnx");
            OnnxModel probe;
            try {
                probe = OnnxModel.read(file);
            } catch (ModelPressException e) {
                tallies.values().forEach(t -> t.skip("not read by ModelPress: " + reason(e)));
                continue;
            }
            long from = probe.opset("");
            List<Map<String, TensorProto>> inputs;
            try {
                inputs = OnnxTestCase.load(caseDir, probe).inputSets();
            } catch (UnsupportedOperationException e) {
                tallies.forEach((target, t) -> {
                    if (from < target) {
                        t.below++;
                        t.skip("inputs ONNX Runtime's Java API cannot create (sequences, optionals, uint16-64)");
                    }
                });
                continue;
            }
            List<OnnxTestCase.Outputs> original = null;
            for (long target : TARGETS) {
                Tally tally = tallies.get(target);
                if (from >= target) {
                    continue;
                }
                tally.below++;
                if (original == null) {
                    try {
                        original = OnnxTestCase.run(file, inputs);
                    } catch (Exception e) {
                        // training operators, kernels missing for some types, batchwise RNN layouts, locales
                        tally.skip("ONNX Runtime cannot run the original");
                        continue;
                    }
                }
                OnnxModel model = OnnxModel.read(file);
                try {
                    OpsetUpgrade.upgrade(model, target).rewrites().forEach((k, v) -> tally.rewrites.merge(k, v, Integer::sum));
                } catch (ModelPressException e) {
                    assertThat(e.code()).as(name + ": " + e.getMessage()).isEqualTo(ErrorCode.UNSUPPORTED_OPSET);
                    tally.unsupported.add(name + ": " + e.getMessage());
                    continue;
                }
                assertThat(model.opset("")).isEqualTo(target);
                Path upgraded = dir.resolve(target + "").resolve(caseDir.getParent().getFileName() + "-" + caseDir.getFileName() + ".onnx");
                model.write(upgraded);
                List<OnnxTestCase.Outputs> actual;
                try {
                    actual = OnnxTestCase.run(upgraded, inputs);
                } catch (Exception e) {
                    failures.add(name + " @" + target + ": ONNX Runtime cannot run the upgraded model: " + e.getMessage());
                    continue;
                }
                String difference = null;
                for (int i = 0; i < original.size() && difference == null; i++) {
                    difference = OnnxTestCase.difference(original.get(i), actual.get(i));
                }
                if (difference != null && !original.isEmpty()
                        && OnnxTestCase.difference(original.get(0), OnnxTestCase.run(file, inputs).get(0)) != null) {
                    tally.skip("the original's outputs differ between runs (random operators)");
                    continue;
                }
                if (difference != null) {
                    failures.add(name + " @" + target + ": " + difference);
                    continue;
                }
                tally.converted++;
                upgradedFiles.computeIfAbsent(target, k -> new ArrayList<>()).add(upgraded);
            }
        }
        tallies.forEach((target, t) -> {
            System.out.printf("opset upgrade to %d: %d corpus models below it, %d converted and equal in ONNX Runtime, "
                    + "%d not convertible, skipped %s%n", target, t.below, t.converted, t.unsupported.size(), t.skipped);
            t.unsupported.forEach(u -> System.out.println("  not convertible: " + u));
            System.out.println("  rewritten nodes: " + t.rewrites);
        });
        assertThat(failures).isEmpty();
        // measured with libonnx-testdata 1.12 and ONNX Runtime 1.26: 201, 808 and 864
        assertThat(tallies.get(13L).converted).isGreaterThanOrEqualTo(180);
        assertThat(tallies.get(17L).converted).isGreaterThanOrEqualTo(720);
        assertThat(tallies.get(21L).converted).isGreaterThanOrEqualTo(780);
        for (Tally t : tallies.values()) {
            assertThat(t.unsupported.size()).isLessThanOrEqualTo(t.below / 20);
        }
        // the onnx checker (python3-onnx 1.12) knows opsets up to 17
        checkerAccepts(upgradedFiles.getOrDefault(13L, List.of()));
        checkerAccepts(upgradedFiles.getOrDefault(17L, List.of()));
    }

    private static String reason(ModelPressException e) {
        return e.detail().contains("opset") ? "default-domain opset below 7" : e.code().name();
    }

    private static void checkerAccepts(List<Path> models) {
        Assumptions.assumeTrue(OnnxChecker.available(), "onnx checker absent: apt-get install python3-onnx");
        if (!models.isEmpty()) {
            OnnxChecker.assertValid(models.toArray(Path[]::new));
        }
    }
}
