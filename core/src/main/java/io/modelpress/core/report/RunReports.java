package io.modelpress.core.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The one writer and the one reader of {@link RunReport}: snake_case keys, indented, every key written (null where
 * unknown). The reader accepts reports of {@link RunReport#SCHEMA_VERSION} and older, ignores keys it does not know
 * (fields added without a version change), and refuses a newer schema version or a document that is not a run report
 * with a one-line error.
 */
public final class RunReports {
    public static final String JSON_FILE = "report.json";
    public static final String HTML_FILE = "report.html";

    static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private RunReports() {
    }

    public static byte[] toBytes(RunReport report) {
        try {
            return MAPPER.writeValueAsBytes(report);
        } catch (JsonProcessingException e) {
            throw new ModelPressException(ErrorCode.INTERNAL, "run report", "cannot be written as JSON: " + e.getMessage(), e);
        }
    }

    public static String toJson(RunReport report) {
        return new String(toBytes(report), StandardCharsets.UTF_8);
    }

    /** The report as a JSON tree, exactly as report.json holds it. */
    public static ObjectNode toTree(RunReport report) {
        return MAPPER.valueToTree(report);
    }

    /** Writes report.json and report.html into {@code dir} (each atomically: a temporary file, then a rename). */
    public static void writeFiles(RunReport report, Path dir) {
        write(dir.resolve(JSON_FILE), toBytes(report));
        write(dir.resolve(HTML_FILE), ReportHtml.render(report).getBytes(StandardCharsets.UTF_8));
    }

    private static void write(Path file, byte[] bytes) {
        try {
            Path temp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName().toString(), ".part");
            try {
                Files.write(temp, bytes);
                Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be written: " + e.getMessage(), e);
        }
    }

    public static RunReport read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, file.toString(), "cannot be read: " + e.getMessage(), e);
        }
        return read(bytes, file.toString());
    }

    /** @param where the report's name in error messages, e.g. its path or S3 key */
    public static RunReport read(byte[] json, String where) {
        JsonNode tree;
        try {
            tree = MAPPER.readTree(json);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "is not JSON: " + firstLine(e.getMessage()), e);
        }
        return read(tree, where);
    }

    /** A report already parsed as a JSON tree (e.g. by a store that verified its bytes). */
    public static RunReport read(JsonNode tree, String where) {
        if (tree == null || !tree.isObject()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "is not a run report: not a JSON object");
        }
        JsonNode version = tree.get("schema_version");
        if (version == null || !version.canConvertToInt()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "is not a run report this version reads: it has no "
                    + "schema_version (reports written before schema_version 1 are not read)");
        }
        if (version.asInt() > RunReport.SCHEMA_VERSION) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "has schema_version " + version.asInt()
                    + ", newer than this version of ModelPress reads (up to " + RunReport.SCHEMA_VERSION + "): update ModelPress");
        }
        if (version.asInt() < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "is not a valid run report: schema_version " + version.asInt());
        }
        try {
            return MAPPER.treeToValue(tree, RunReport.class);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "is not a valid run report: " + firstLine(e.getMessage()), e);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
