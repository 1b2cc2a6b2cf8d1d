package io.modelpress.core.prune.sparse;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.ModelFiles;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.dynamic.DynamicOptions;
import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.weightonly.SentenceEmbeddings;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Quick standalone check (not a test, not the bench): all-MiniLM-L6-v2 pruned several ways, each as fp32 and after
 * data-free dynamic int8 quantization: file bytes, gzip bytes (also as a share of the fp32 file), the share of int8
 * weight bytes that are exactly 0, and the cosine of mean-pooled embeddings to fp32 on the eval sentences. Run from
 * core/ like {@code LowRankLatencyCheck}. Option {@code sparse.sentences} (default 256).
 */
public final class SparseSizeCheck {
    private SparseSizeCheck() {
    }

    public static void main(String[] args) throws Exception {
        Path fp32 = ReferenceModels.minilm();
        long fp32Bytes = Files.size(fp32);
        Path dir = Files.createTempDirectory("sparse-size");
        List<String> texts = SentenceEmbeddings.sentences(Integer.getInteger("sparse.sentences", 256));
        float[][] reference;
        try (SentenceEmbeddings e = new SentenceEmbeddings(fp32)) {
            reference = e.embed(texts, 32);
        }
        Map<String, SparsityOptions> variants = new LinkedHashMap<>();
        variants.put("dense", null);
        variants.put("magnitude 0.8, MatMuls", SparsityOptions.magnitude(0.8));
        variants.put("magnitude 0.8, MatMuls + embeddings", SparsityOptions.magnitude(0.8).withEmbeddings(true));
        variants.put("magnitude 0.8 global lamp, MatMuls + embeddings", SparsityOptions.magnitude(0.8).withEmbeddings(true)
                .withScope(SparsityOptions.Scope.GLOBAL).withAllocation(SparsityOptions.Allocation.LAMP));
        variants.put("2:4, MatMuls", SparsityOptions.nOfM(2, 4));
        System.out.printf(Locale.ROOT, "fp32 file %d bytes%n", fp32Bytes);
        System.out.printf("| variant | form | bytes | gzip bytes | gzip / fp32 file | zero bytes of int8 MatMul weights | cosine mean / min |%n|---|---|---|---|---|---|---|%n");
        for (var variant : variants.entrySet()) {
            OnnxModel model = OnnxModel.read(fp32);
            if (variant.getValue() != null) {
                SparsityPruner.prune(model, variant.getValue());
            }
            Path pruned = dir.resolve("pruned.onnx");
            model.write(pruned);
            row(variant.getKey(), "fp32", pruned, fp32Bytes, "-", texts, reference);
            OnnxModel int8 = OnnxModel.read(pruned);
            DynamicQuantizer.quantize(int8, DynamicOptions.DEFAULT, CalibrationData.NONE);
            Path quantized = dir.resolve("int8.onnx");
            int8.write(quantized);
            row(variant.getKey(), "int8", quantized, fp32Bytes, zeroByteShare(int8), texts, reference);
        }
    }

    private static void row(String variant, String form, Path file, long fp32Bytes, String zeroBytes, List<String> texts,
                            float[][] reference) throws Exception {
        EvaluationReport.Size size = ModelFiles.measure(file);
        double[] cosine;
        try (SentenceEmbeddings e = new SentenceEmbeddings(file)) {
            cosine = SentenceEmbeddings.cosines(reference, e.embed(texts, 32));
        }
        System.out.printf(Locale.ROOT, "| %s | %s | %d | %d | %.2f %% | %s | %.4f / %.4f |%n", variant, form, size.fileBytes(),
                size.compressedBytes(), 100.0 * size.compressedBytes() / fp32Bytes, zeroBytes, cosine[0], cosine[1]);
    }

    /** Share of bytes equal to 0 among the int8 initializers of at least 64 KiB (the quantized MatMul weights). */
    private static String zeroByteShare(OnnxModel model) {
        long zeros = 0;
        long total = 0;
        for (TensorProto t : model.graph().getInitializerList()) {
            if (DataType.of(t) == DataType.INT8 && t.getRawData().size() >= 65536) {
                ByteBuffer raw = model.bytes(t);
                for (int i = 0; i < raw.remaining(); i++) {
                    if (raw.get(i) == 0) {
                        zeros++;
                    }
                }
                total += raw.remaining();
            }
        }
        return String.format(Locale.ROOT, "%.1f %%", 100.0 * zeros / Math.max(1, total));
    }
}
