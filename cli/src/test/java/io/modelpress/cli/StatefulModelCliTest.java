package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.StatefulVad;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** `evaluate` and `compress` on a stateful model shaped like Silero VAD: --shape/--value hints and npz data. */
class StatefulModelCliTest {
    @TempDir
    Path dir;

    Path vad() throws Exception {
        return StatefulVad.write(dir.resolve("vad.onnx"), 1);
    }

    @Test
    void evaluateWithHintsRunsAndWithoutThemSaysWhatToGive() throws Exception {
        String model = vad().toString();
        CliRunner ok = CliRunner.run("evaluate", model, "--reference", model, "--shape", "input=1x512", "--value", "sr=16000",
                "--samples", "8", "--batch", "4", "--threads", "1", "--no-latency", "--json");
        assertThat(ok.exitCode()).as(ok.err()).isZero();
        JsonNode report = ok.json();
        assertThat(report.get("samples").asLong()).isEqualTo(8);
        assertThat(report.get("outputs").get("stateN").get("cosine").get("min").asDouble()).isGreaterThan(0.999999);

        CliRunner bare = CliRunner.run("evaluate", model, "--samples", "8", "--threads", "1", "--no-latency");
        assertThat(bare.exitCode()).isEqualTo(2);
        assertThat(bare.err()).contains("[DATA_MISMATCH]").contains("Pad reflect").contains("--shape input=1xN")
                .contains("--value sr=V").contains("--data").doesNotContain("onnxruntime").doesNotContain("\tat ");
        assertThat(bare.err().strip().lines()).hasSize(1);
    }

    @Test
    void evaluateReadsAnNpzWithInputSampleRateAndState() throws Exception {
        int samples = 5;
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("input", HostArray.zeros(io.modelpress.core.onnx.DataType.FLOAT, samples, 512));
        arrays.put("state", HostArray.zeros(io.modelpress.core.onnx.DataType.FLOAT, 2, 1, StatefulVad.STATE));
        Path data = dir.resolve("chunks.npz");
        NpyWriter.writeNpz(data, arrays, true);
        String model = vad().toString();
        // the file lacks sr: --value gives it
        CliRunner ok = CliRunner.run("evaluate", model, "--data", data.toString(), "--value", "sr=8000", "--batch", "2",
                "--threads", "1", "--no-latency", "--json");
        assertThat(ok.exitCode()).as(ok.err()).isZero();
        assertThat(ok.json().get("samples").asLong()).isEqualTo(samples);

        CliRunner missing = CliRunner.run("evaluate", model, "--data", data.toString(), "--threads", "1", "--no-latency");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("chunks.npz").contains("no array for model input 'sr' []").contains("--value sr=V");
    }

    @Test
    void badHintsExitTwoWithTheExpectedSyntax() throws Exception {
        String model = vad().toString();
        CliRunner r = CliRunner.run("evaluate", model, "--shape", "input:1x512");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("[BAD_ARGUMENT]").contains("--shape input:1x512").contains("NAME=DIMS");

        r = CliRunner.run("evaluate", model, "--shape", "input=1xbig");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("dimension 'big'");

        r = CliRunner.run("evaluate", model, "--value", "rate=16000");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("'rate'").contains("input, sr, state");

        r = CliRunner.run("compress", model, "--value", "sr=16k", "--out", dir.resolve("o").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("--value sr=16k").contains("not a number");
        assertThat(dir.resolve("o/model.onnx")).doesNotExist();
    }

    @Test
    void compressTakesTheHintsFromTheCommandLineOrTheRecipe() throws Exception {
        String model = vad().toString();
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("compress", model, "--recipe", "fp16", "--shape", "input=1x512", "--value", "sr=16000",
                "--out", out.toString(), "--threads", "1", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.json().get("evaluation").get("samples").asLong()).isPositive();
        JsonNode stateN = r.json().get("stages").get(1).get("report").get("outputs").get("stateN");
        assertThat(stateN.get("cosine").get("min").asDouble()).isGreaterThan(0.99);
        OnnxChecker.assertValid(out.resolve("model.onnx"));

        Path recipe = Files.writeString(dir.resolve("vad.yaml"), """
                stages:
                  - convert: { to: fp16 }
                  - eval:
                      metrics: [cosine]
                      samples: 16
                      shape: { input: [1, 512] }
                      value: { sr: 16000 }
                """);
        r = CliRunner.run("compress", model, "--recipe", recipe.toString(), "--out", dir.resolve("out2").toString(), "--threads", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("cosine").contains("gate     none");

        // the command line overrides the recipe: too short for the 16 kHz padding
        r = CliRunner.run("compress", model, "--recipe", recipe.toString(), "--shape", "input=32", "--out", dir.resolve("out3").toString(),
                "--threads", "1");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Pad reflect").contains("made up");
    }
}
