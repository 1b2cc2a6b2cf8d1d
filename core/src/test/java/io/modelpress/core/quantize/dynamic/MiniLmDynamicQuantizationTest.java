package io.modelpress.core.quantize.dynamic;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * all-MiniLM-L6-v2 fp32 -> dynamic int8, judged by ONNX Runtime against the fp32 model and against ONNX Runtime's own
 * quantized release (-q): file size, cosine of mean-pooled sentence embeddings on the 640 eval sentences (calibration
 * uses the disjoint calibration file), and that ONNX Runtime runs every quantized MatMul as a fused integer kernel.
 */
class MiniLmDynamicQuantizationTest {
    private static final List<String> INPUTS = List.of("input_ids", "attention_mask", "token_type_ids");
    private static List<Sentences.Batch> evalBatches;
    private static List<float[]> reference;
    private static long releaseBytes;

    @TempDir
    Path dir;

    @BeforeAll
    static void embedWithFp32() throws Exception {
        List<String> eval = Sentences.read("sentences-eval.jsonl", Integer.MAX_VALUE);
        assertThat(eval).hasSizeGreaterThanOrEqualTo(500);
        evalBatches = Sentences.batches(eval, 32);
        reference = Embeddings.embed(ReferenceModels.minilm(), evalBatches);
        releaseBytes = Files.size(ReferenceModels.minilmQuantized());
    }

    @Test
    void calibratedInt8IsSmallerThanTheReleaseAndWithinCosineBounds() throws Exception {
        OnnxModel model = OnnxModel.read(ReferenceModels.minilm());
        List<Sentences.Batch> calibration = Sentences.batches(Sentences.read("sentences-calib.jsonl", Integer.MAX_VALUE), 32);
        QuantizationReport report = DynamicQuantizer.quantize(model, DynamicOptions.DEFAULT, Sentences.calibration(calibration, INPUTS));
        Path file = dir.resolve("minilm-int8.onnx");
        model.write(file);

        assertThat(Files.size(file)).as("bytes (ONNX Runtime's -q: %d)", releaseBytes).isLessThanOrEqualTo(releaseBytes);
        Embeddings.Fidelity fidelity = Embeddings.compare(reference, Embeddings.embed(file, evalBatches));
        assertThat(fidelity.mean()).as("mean cosine to fp32").isGreaterThanOrEqualTo(0.995);
        assertThat(fidelity.min()).as("min cosine to fp32").isGreaterThanOrEqualTo(0.99);
        assertThat(report.notes().get("rewrites")).startsWith("float model unchanged");

        long quantizedMatMuls = report.entries().stream().filter(e -> e.quantized() && e.opType().equals("MatMul")).count();
        // 6 layers x (Q, K, V, attention output, FFN in, FFN out); Q, K and V read one input and are not merged by default
        assertThat(report.notes()).doesNotContainKey("sibling_matmuls");
        assertThat(quantizedMatMuls).isEqualTo(36);
        Map<String, Integer> ops = OptimizedGraph.opCounts(file);
        assertThat(ops).as("ONNX Runtime's optimized graph").doesNotContainKey("MatMulInteger");
        assertThat(ops.getOrDefault("com.microsoft:DynamicQuantizeMatMul", 0) + ops.getOrDefault("com.microsoft:MatMulIntegerToFloat", 0))
                .as("fused integer MatMuls in %s", ops).isEqualTo(quantizedMatMuls);
        // Q, K and V share one run-time quantization of their input, as in ONNX Runtime's own quantizer
        assertThat(ops.get("DynamicQuantizeLinear")).as("run-time quantizations in %s", ops).isEqualTo(6);
        // the attention masks ride in the Q.K products: no mask Add and no score Div left, one Concat over K per layer
        assertThat(report.notes().get("attention_masks")).startsWith("6 attention masks");
        assertThat(ops).as("ONNX Runtime's optimized graph").doesNotContainKey("Div");
        assertThat(ops.get("Add")).as("residual and embedding Adds only in %s", ops).isEqualTo(14);
        assertThat(ops.get("Concat")).isEqualTo(6);
        // sequence-major layout: the batched attention products read Q, K and V in place (6 layers x 2 products); what
        // stays is the context's transpose per layer, one on each token input and the output, and the mask's
        assertThat(report.notes().get("layout")).startsWith("sequence-major");
        assertThat(ops.get("com.microsoft:FusedMatMul")).as("strided batched products in %s", ops).isEqualTo(12);
        assertThat(ops.get("Transpose")).as("transposes in %s (24 batch-major)", ops).isLessThanOrEqualTo(11);
        OnnxChecker.assertValid(file);
    }

    @Test
    void dataFreeInt8IsSmallerAndCloserThanTheRelease() throws Exception {
        OnnxModel model = OnnxModel.read(ReferenceModels.minilm());
        QuantizationReport report = DynamicQuantizer.quantize(model, DynamicOptions.DEFAULT, CalibrationData.NONE);
        Path file = dir.resolve("minilm-int8-data-free.onnx");
        model.write(file);

        assertThat(report.notes().get("calibration")).contains("data-free");
        assertThat(report.notes().get("layout")).as("checked on made-up token ids").startsWith("sequence-major");
        assertThat(report.notes().get("attention_masks")).as("checked on made-up token ids").startsWith("6 attention masks");
        assertThat(Files.size(file)).isLessThanOrEqualTo(releaseBytes);
        Embeddings.Fidelity ours = Embeddings.compare(reference, Embeddings.embed(file, evalBatches));
        Embeddings.Fidelity release = Embeddings.compare(reference, Embeddings.embed(ReferenceModels.minilmQuantized(), evalBatches));
        assertThat(ours.mean()).as("mean cosine, ours vs -q %s", release.mean()).isGreaterThan(release.mean());
        assertThat(ours.min()).as("min cosine, ours vs -q %s", release.min()).isGreaterThan(release.min());
    }
}
