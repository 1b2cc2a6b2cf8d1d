package io.modelpress.cli;

import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Submissions are checked before anything is uploaded. The orchestrator here is an address where nothing listens:
 * a good submission gets as far as the connection error, a bad one stops at its own error first.
 */
class SubmitCommandTest {
    @TempDir
    Path dir;

    private Path model;
    private String api;

    @BeforeEach
    void setUp() throws IOException {
        model = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(4, 8, 3, false, 1)).write(model);
        try (ServerSocket socket = new ServerSocket(0)) {
            api = "http://127.0.0.1:" + socket.getLocalPort();
        }
    }

    private CliRunner submit(String... args) {
        String[] all = new String[args.length + 5];
        all[0] = "submit";
        all[1] = "--api";
        all[2] = api;
        all[3] = "--dir";
        all[4] = dir.resolve("stack").toString();
        System.arraycopy(args, 0, all, 5, args.length);
        return CliRunner.run(all);
    }

    @Test
    void aGoodSubmissionReachesTheUpload() throws IOException {
        Path recipe = Files.writeString(dir.resolve("good.yaml"), "stages:\n  - quantize: { mode: dynamic }\n");
        CliRunner r = submit(model.toString(), "--recipe", recipe.toString());
        assertThat(r.exitCode()).isEqualTo(Main.FAILURE);
        assertThat(r.err()).contains("uploading " + model).contains("error: orchestrator at " + api).contains("cannot be reached");
    }

    @Test
    void aBrokenRecipeFailsWithItsLineAndColumnBeforeAnyUpload() throws IOException {
        Path recipe = Files.writeString(dir.resolve("recipe.yaml"), "stages:\n  - quantize: { mode: dynamc }\n");
        CliRunner r = submit(model.toString(), "--recipe", recipe.toString());
        assertThat(r.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(r.err()).contains("recipe.yaml:2:23").contains("stages[0].quantize.mode").contains("[BAD_RECIPE]")
                .doesNotContain("uploading").doesNotContain("orchestrator");
        assertThat(r.out()).isEmpty();

        CliRunner unknown = submit(model.toString(), "--recipe", "int9-magic");
        assertThat(unknown.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(unknown.err()).contains("recipe 'int9-magic'").contains("built-in recipes").doesNotContain("uploading");
    }

    @Test
    void notAModelOrAMissingDataFileFailsBeforeAnyUpload() throws IOException {
        Path notes = Files.writeString(dir.resolve("notes.onnx"), "just some text\n");
        CliRunner text = submit(notes.toString());
        assertThat(text.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(text.err()).contains("model " + notes).contains("[NOT_ONNX]").contains("plain text").doesNotContain("uploading");

        CliRunner missing = submit(model.toString(), "--data", dir.resolve("absent.npz").toString());
        assertThat(missing.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(missing.err()).contains("data " + dir.resolve("absent.npz")).contains("does not exist").doesNotContain("uploading");

        Path csv = Files.writeString(dir.resolve("samples.csv"), "1,2,3\n");
        CliRunner unreadable = submit(model.toString(), "--data", csv.toString());
        assertThat(unreadable.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(unreadable.err()).contains("is not a recognised data file").doesNotContain("uploading");

        CliRunner noTokenizer = submit(model.toString(), "--tokenizer", dir.resolve("tokenizer.json").toString());
        assertThat(noTokenizer.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(noTokenizer.err()).contains("tokenizer ").contains("does not exist").doesNotContain("uploading");
    }
}
