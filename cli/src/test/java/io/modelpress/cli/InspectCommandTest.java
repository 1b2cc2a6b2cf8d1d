package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class InspectCommandTest {
    @TempDir
    Path dir;

    @Test
    void jsonHasTheDocumentedKeys() {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(4, 8, 3, false, 1)).write(file);
        CliRunner r = CliRunner.run("inspect", file.toString(), "--json", "--dim", "batch=2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode json = r.json();
        assertThat(json.get("parameters").asLong()).isEqualTo(67);
        assertThat(json.get("file_bytes").asLong()).isEqualTo(file.toFile().length());
        assertThat(json.get("ops").get("MatMul").asInt()).isEqualTo(2);
        assertThat(json.get("macs").asLong()).isEqualTo(2 * 56);
        assertThat(json.get("sparsity").asDouble()).isBetween(0.0, 0.1);
        assertThat(json.get("inputs").get("x").get("shape").toString()).isEqualTo("[\"batch\",4]");
    }

    @Test
    void textNamesTheEssentials() {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(4, 8, 3, true, 1)).write(file);
        CliRunner r = CliRunner.run("inspect", file.toString());
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("parameters  67").contains("MACs        56 at batch=1").contains("MatMul 2");
    }

    @Test
    void macsAreNullWhenNoneCanBeCounted() {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(4, 8, 3, false, 1)).write(file);
        // without running the model the MatMul output shapes (symbolic batch) stay unknown
        CliRunner r = CliRunner.run("inspect", file.toString(), "--json", "--no-run");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode json = r.json();
        assertThat(json.get("macs").isNull()).as(json.toString()).isTrue();
        assertThat(json.get("macs_uncounted_nodes").asInt()).isEqualTo(2);
        assertThat(json.get("macs_uncounted_ops").get("MatMul").asInt()).isEqualTo(2);

        CliRunner text = CliRunner.run("inspect", file.toString(), "--no-run");
        assertThat(text.out()).contains("MACs        unknown (not counted: MatMul 2)");
    }

    @Test
    void badInputExitsWithTwoAndOneReadableLine() throws Exception {
        Path junk = Files.writeString(dir.resolve("notes.onnx"), "not a model");
        CliRunner r = CliRunner.run("inspect", junk.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).startsWith("error: file notes.onnx").contains("[NOT_ONNX]").doesNotContain("\tat ");
        assertThat(r.err().lines().count()).isEqualTo(1);

        CliRunner missing = CliRunner.run("inspect", dir.resolve("absent.onnx").toString());
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("does not exist");

        CliRunner usage = CliRunner.run("inspect");
        assertThat(usage.exitCode()).isEqualTo(2);
        assertThat(usage.err()).contains("MODEL");
    }
}
