package io.modelpress.cli;

import com.sun.net.httpserver.HttpServer;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

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

    @Test
    void aStudentIsCheckedLikeTheModelAndUploadedAsItsOwnPart() throws IOException {
        Path notes = Files.writeString(dir.resolve("notes.onnx"), "just some text\n");
        CliRunner text = submit(model.toString(), "--student", notes.toString());
        assertThat(text.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(text.err()).contains("student " + notes).contains("[NOT_ONNX]").contains("plain text").doesNotContain("uploading");

        CliRunner missing = submit(model.toString(), "--student", dir.resolve("absent.onnx").toString());
        assertThat(missing.exitCode()).isEqualTo(Main.BAD_INPUT);
        assertThat(missing.err()).contains("student " + dir.resolve("absent.onnx")).contains("does not exist")
                .doesNotContain("uploading");

        // a stand-in orchestrator that keeps the upload and answers as the real one does (201 and the run's state)
        Path student = dir.resolve("small.onnx");
        byte[] studentBytes = SmallModels.mlp(4, 2, 3, false, 2).toByteArray();
        Files.write(student, studentBytes);
        AtomicReference<byte[]> body = new AtomicReference<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/runs", exchange -> {
            body.set(exchange.getRequestBody().readAllBytes());
            RunState run = new RunState("run-0000000000000042", "mlp", "api", RunState.State.RUNNING, "r", "", "api",
                    new ArtifactRef("b", "runs/run-0000000000000042/input/mlp.onnx", "aa", 1), List.of(), null, List.of(), null,
                    null, Instant.EPOCH, Instant.EPOCH, null,
                    new ArtifactRef("b", "runs/run-0000000000000042/input/student/small.onnx", "bb", 1));
            byte[] answer = Json.write(run);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(201, answer.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(answer);
            }
        });
        server.start();
        try {
            api = "http://127.0.0.1:" + server.getAddress().getPort();
            CliRunner r = submit(model.toString(), "--student", student.toString());
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(r.out().trim()).isEqualTo("run-0000000000000042");
            assertThat(r.err()).contains("uploading " + model).contains("and student " + student);
        } finally {
            server.stop(0);
        }
        String sent = new String(body.get(), StandardCharsets.ISO_8859_1);
        String part = "Content-Disposition: form-data; name=\"student\"; filename=\"small.onnx\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\n";
        assertThat(sent).contains("name=\"model\"; filename=\"mlp.onnx\"").contains(part);
        int start = sent.indexOf(part) + part.length();
        assertThat(sent.substring(start, start + studentBytes.length))
                .isEqualTo(new String(studentBytes, StandardCharsets.ISO_8859_1));
    }
}
