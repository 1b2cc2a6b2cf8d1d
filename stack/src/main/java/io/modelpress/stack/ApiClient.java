package io.modelpress.stack;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;

import java.io.BufferedReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The orchestrator's REST API as its clients use it (the CLI, the end-to-end tests, the pipeline benchmark): submit a
 * run (multipart upload), read a run, follow its events.
 */
public final class ApiClient {
    private final URI base;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    /** @param baseUrl the orchestrator, e.g. {@code http://127.0.0.1:8080} */
    public ApiClient(String baseUrl) {
        this(baseUrl, null);
    }

    /**
     * @param baseUrl the orchestrator, e.g. {@code http://127.0.0.1:8080}
     * @param token   the API's bearer token (sent as {@code Authorization: Bearer}), or null for none
     */
    public ApiClient(String baseUrl, String token) {
        this.base = URI.create(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
        this.token = token == null || token.isBlank() ? null : token.trim();
    }

    /** A request to the API, with the bearer token when there is one. */
    private HttpRequest.Builder authorized(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri);
        return token == null ? builder : builder.header("Authorization", "Bearer " + token);
    }

    public String baseUrl() {
        return base.toString();
    }

    /**
     * What to submit; {@code recipeFile} and {@code recipeName} are exclusive, both may be null (default recipe).
     *
     * @param student a model to start from instead of {@code model}, which stays the original (as {@code compress
     *                --student}), or null
     */
    public record Submission(Path model, Path recipeFile, String recipeName, List<Path> data, Path tokenizer, String name,
                             Path student) {
        public Submission {
            data = data == null ? List.of() : List.copyOf(data);
        }

        /** A submission without a student. */
        public Submission(Path model, Path recipeFile, String recipeName, List<Path> data, Path tokenizer, String name) {
            this(model, recipeFile, recipeName, data, tokenizer, name, null);
        }
    }

    /** Uploads the files and starts a run; the files stream from disk, however large. */
    public RunState submit(Submission submission) {
        requireFile(submission.model(), "model");
        String boundary = "modelpress-" + UUID.randomUUID();
        List<HttpRequest.BodyPublisher> parts = new ArrayList<>();
        try {
            parts.addAll(filePart(boundary, "model", submission.model()));
            if (submission.student() != null) {
                parts.addAll(filePart(boundary, "student", requireFile(submission.student(), "student")));
            }
            if (submission.recipeFile() != null) {
                parts.addAll(filePart(boundary, "recipe", requireFile(submission.recipeFile(), "recipe")));
            }
            if (submission.recipeName() != null) {
                parts.add(textPart(boundary, "recipe_name", submission.recipeName()));
            }
            for (Path data : submission.data()) {
                parts.addAll(filePart(boundary, "data", requireFile(data, "data file")));
            }
            if (submission.tokenizer() != null) {
                parts.addAll(filePart(boundary, "tokenizer", requireFile(submission.tokenizer(), "tokenizer")));
            }
            if (submission.name() != null) {
                parts.add(textPart(boundary, "name", submission.name()));
            }
        } catch (FileNotFoundException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, e.getMessage(), "cannot be read");
        }
        parts.add(HttpRequest.BodyPublishers.ofString("--" + boundary + "--\r\n"));
        HttpRequest request = authorized(base.resolve("api/runs"))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.concat(parts.toArray(HttpRequest.BodyPublisher[]::new)))
                .build();
        return Json.read(send(request, "submitting " + submission.model().getFileName()), RunState.class);
    }

    public RunState run(String runId) {
        HttpRequest request = authorized(base.resolve("api/runs/" + encode(runId))).header("Accept", "application/json")
                .timeout(Duration.ofSeconds(30)).GET().build();
        return Json.read(send(request, "run " + runId), RunState.class);
    }

    public List<RunState> runs() {
        HttpRequest request = authorized(base.resolve("api/runs")).header("Accept", "application/json")
                .timeout(Duration.ofSeconds(30)).GET().build();
        return List.of(Json.read(send(request, "the run list"), RunState[].class));
    }

    /**
     * Follows a run's server-sent events: every state change goes to {@code onState} until the stream ends (the
     * orchestrator ends it after the run's final state). Returns the last state received, or null when none came.
     */
    public RunState follow(String runId, Consumer<RunState> onState) {
        HttpRequest request = authorized(base.resolve("api/runs/" + encode(runId) + "/events"))
                .header("Accept", "text/event-stream").GET().build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelPressException(ErrorCode.IO_ERROR, "interrupted");
        }
        if (response.statusCode() != 200) {
            byte[] body;
            try (InputStream in = response.body()) {
                body = in.readAllBytes();
            } catch (IOException e) {
                body = new byte[0];
            }
            throw apiError(response.statusCode(), body, "run " + runId);
        }
        RunState last = null;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            StringBuilder data = new StringBuilder();
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("data:")) {
                    data.append(data.length() > 0 ? "\n" : "").append(line.substring(line.startsWith("data: ") ? 6 : 5));
                } else if (line.isEmpty() && data.length() > 0) {
                    last = Json.read(data.toString().getBytes(StandardCharsets.UTF_8), RunState.class);
                    data.setLength(0);
                    onState.accept(last);
                }
            }
        } catch (IOException e) {
            // the connection broke (orchestrator restarted): the caller decides whether to follow again
        }
        return last;
    }

    private byte[] send(HttpRequest request, String what) {
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelPressException(ErrorCode.IO_ERROR, "interrupted");
        }
        if (response.statusCode() / 100 != 2) {
            throw apiError(response.statusCode(), response.body(), what);
        }
        return response.body();
    }

    private ModelPressException unreachable(IOException e) {
        String why = e instanceof ConnectException ? "nothing answers there" : e.toString();
        return new ModelPressException(ErrorCode.IO_ERROR, "orchestrator at " + base, "cannot be reached (" + why
                + "); is the stack running? Start it with ./modelpress up, or point --api at it");
    }

    /** The API's JSON error {code, message} as an exception with the same code where it is one of ours. */
    private static ModelPressException apiError(int status, byte[] body, String what) {
        String code = null;
        String message = new String(body, StandardCharsets.UTF_8);
        try {
            JsonNode json = Json.MAPPER.readTree(body);
            code = json.path("code").asText(null);
            message = json.path("message").asText(message);
        } catch (IOException notJson) {
            // keep the raw text
        }
        ErrorCode errorCode = status / 100 == 4 ? ErrorCode.BAD_ARGUMENT : ErrorCode.IO_ERROR;
        if (code != null) {
            for (ErrorCode candidate : ErrorCode.values()) {
                if (candidate.name().equals(code)) {
                    errorCode = candidate;
                }
            }
        }
        if (status == 401) {
            message += "; give the API's token in MODELPRESS_API_TOKEN (the local stack's is in .modelpress/api-token, "
                    + "which the CLI reads by itself)";
        }
        return new ModelPressException(errorCode, what, message + " (HTTP " + status + (code == null ? "" : ", " + code) + ")");
    }

    private static Path requireFile(Path file, String what) {
        if (!Files.isRegularFile(file)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, what + " " + file, "is not a file");
        }
        return file;
    }

    private static List<HttpRequest.BodyPublisher> filePart(String boundary, String field, Path file) throws FileNotFoundException {
        String header = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\""
                + file.getFileName().toString().replace("\"", "_") + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
        return List.of(HttpRequest.BodyPublishers.ofString(header), HttpRequest.BodyPublishers.ofFile(file),
                HttpRequest.BodyPublishers.ofString("\r\n"));
    }

    private static HttpRequest.BodyPublisher textPart(String boundary, String field, String value) {
        return HttpRequest.BodyPublishers.ofString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field
                + "\"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + value + "\r\n", StandardCharsets.UTF_8);
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
