package io.modelpress.core.stats;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.ModelFiles;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.TemporaryModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What a model costs, for before/after lines in pass reports: parameters, MACs, and the bytes of its files plain and
 * gzip-compressed (default level, the form a sparse model ships in). The model is written to a temporary folder to
 * be measured exactly as it would be stored.
 *
 * @param macs        multiply-accumulates at {@code assumedDims} (symbolic input dimensions taken as 1), or null
 *                    when they could not be counted
 * @param gzipBytes   the files' gzip size, or null when not measured ({@link #withoutGzip})
 * @param assumedDims the values taken for symbolic input dimensions
 */
public record ModelFootprint(long parameters, Long macs, long bytes, Long gzipBytes, Map<String, Long> assumedDims) {

    /** Parameters, MACs, bytes and gzip bytes. */
    public static ModelFootprint of(OnnxModel model) {
        return measure(model, true);
    }

    /** Parameters, MACs and bytes, for passes whose output does not compress better than their input (structured pruning). */
    public static ModelFootprint withoutGzip(OnnxModel model) {
        return measure(model, false);
    }

    private static ModelFootprint measure(OnnxModel model, boolean gzip) {
        try (TemporaryModel file = new TemporaryModel(model)) {
            ModelStats stats;
            try {
                stats = ModelStats.of(file.file(), model, ModelStats.Options.DEFAULT);
            } catch (ModelPressException e) {
                // a model ONNX Runtime cannot run here still gets its declared shapes counted
                stats = ModelStats.of(file.file(), model, new ModelStats.Options(Map.of(), false));
            }
            long bytes = 0;
            long gzipBytes = 0;
            // the temporary folder holds exactly the model's files: the .onnx and any external data it was written with
            try (Stream<Path> files = Files.list(file.file().getParent())) {
                for (Path f : files.sorted().toList()) {
                    bytes += Files.size(f);
                    gzipBytes += gzip ? ModelFiles.gzipSize(f) : 0;
                }
            } catch (IOException e) {
                throw new ModelPressException(ErrorCode.IO_ERROR, "temporary model", "cannot be measured: " + e.getMessage(), e);
            }
            return new ModelFootprint(stats.parameters(), stats.macs(), bytes, gzip ? gzipBytes : null, stats.assumedDims());
        }
    }

    public ObjectNode toJson() {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.put("parameters", parameters);
        if (macs == null) {
            json.putNull("macs");
        } else {
            json.put("macs", macs);
        }
        json.put("bytes", bytes);
        if (gzipBytes != null) {
            json.put("gzip_bytes", gzipBytes);
        }
        ObjectNode dims = json.putObject("macs_assumed_dims");
        assumedDims.forEach(dims::put);
        return json;
    }
}
