package io.modelpress.examples.fashion;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Byte-for-byte fingerprints of what the built-in recipes make of all-MiniLM-L6-v2 and the Fashion-MNIST teacher: a
 * restructuring of the passes must not change a single output byte. The recorded file maps (input sha256, recipe) to
 * the output's sha256; an input that was never recorded (a teacher trained on another machine) has nothing to compare
 * with. Rewrite the record with {@code -Dmodelpress.fingerprints.record=true} only when a change of output is intended.
 */
@Order(3)
class BuiltInRecipeFingerprintTest {
    private static final Path RECORD = Path.of("src/test/resources/builtin-recipe-fingerprints.tsv");

    @TempDir
    Path work;

    @Test
    void builtInRecipesMakeTheRecordedBytes() throws Exception {
        Map<String, Case> cases = new LinkedHashMap<>();
        Path minilm = ReferenceModels.minilm();
        Path calibrationText = Path.of("../examples/data/sentences-calib.jsonl").toAbsolutePath().normalize();
        cases.put("all-MiniLM-L6-v2", new Case(minilm, List.of(calibrationText), ReferenceModels.minilmTokenizer()));
        if (FashionMnist.isPresent(FashionMnist.DEFAULT_DIR)) {
            Path teacher = FashionMnistTeacher.trainOrLoad(FashionMnistTeacher.defaultCacheDir());
            cases.put("fashion-mnist-teacher", new Case(teacher, List.of(FashionMnist.DEFAULT_DIR), null));
        }
        Map<String, String> recorded = readRecord();
        List<String> lines = new ArrayList<>();
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (Map.Entry<String, Case> entry : cases.entrySet()) {
            Case c = entry.getValue();
            String inputSha = sha256(c.model());
            for (String recipe : Recipes.BUILT_IN) {
                Path output = compress(c, recipe, work.resolve(entry.getKey() + "-" + recipe));
                try (ModelSession session = ModelSession.open(output, SessionSettings.DEFAULT)) {
                    assertThat(session.inputs()).as(recipe + " on " + entry.getKey()).isNotEmpty();
                }
                String outputSha = sha256(output);
                String key = inputSha + "\t" + recipe;
                lines.add(key + "\t" + outputSha + "\t" + entry.getKey());
                if (recorded.containsKey(key)) {
                    compared++;
                    if (!recorded.get(key).equals(outputSha)) {
                        mismatches.add(recipe + " on " + entry.getKey() + ": " + outputSha + ", recorded " + recorded.get(key));
                    }
                }
            }
        }
        if (Boolean.getBoolean("modelpress.fingerprints.record")) {
            Files.writeString(RECORD, "# input sha256\trecipe\toutput sha256\tmodel (BuiltInRecipeFingerprintTest)\n"
                    + String.join("\n", lines) + "\n");
            return;
        }
        assertThat(mismatches).as("built-in recipe outputs changed").isEmpty();
        assumeTrue(compared > 0, "no recorded fingerprint for these inputs (a teacher trained elsewhere): " + lines);
    }

    /** Runs the recipe's model-changing stages (its eval stage only measures) and returns the final model. */
    private static Path compress(Case c, String recipe, Path dir) throws IOException {
        Path current = c.model();
        for (StageSpec spec : Recipes.builtIn(recipe).stages()) {
            if (spec.type().equals("eval")) {
                continue;
            }
            Path stageDir = Files.createDirectories(dir.resolve(spec.label()));
            StageOutcome outcome = Stages.forType(spec.type()).run(new StageContext(spec, current, c.model(), c.data(),
                    c.tokenizer(), stageDir, 1, null));
            current = outcome.model();
        }
        return current;
    }

    private static Map<String, String> readRecord() throws IOException {
        Map<String, String> record = new LinkedHashMap<>();
        if (!Files.isRegularFile(RECORD)) {
            return record;
        }
        for (String line : Files.readAllLines(RECORD)) {
            String[] fields = line.split("\t");
            if (!line.startsWith("#") && fields.length >= 3) {
                record.put(fields[0] + "\t" + fields[1], fields[2]);
            }
        }
        return record;
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private record Case(Path model, List<Path> data, Path tokenizer) {
    }
}
