package io.modelpress.core.prune.sparse;

import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.ModelFiles;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.dynamic.DynamicOptions;
import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * all-MiniLM-L6-v2 pruned to 80 % then quantized to int8 by the dynamic quantizer: the sparsity targets are hit
 * exactly, the zeros survive quantization as exact zero bytes, and the gzip-compressed file is at most a tenth of the
 * fp32 file.
 */
class MiniLmSparsityTest {
    @TempDir
    Path dir;

    @Test
    void eightyPercentSparseInt8GzipsToATenthOfTheFp32File() throws Exception {
        Path fp32 = ReferenceModels.minilm();
        OnnxModel model = OnnxModel.read(fp32);
        SparsityReport report = SparsityPruner.prune(model, SparsityOptions.magnitude(0.8).withEmbeddings(true));
        Path pruned = dir.resolve("minilm-sparse.onnx");
        model.write(pruned);

        // 36 MatMul weights (6 layers x Q, K, V, attention output, FFN in, FFN out) and 3 embedding tables
        assertThat(report.layers()).hasSize(39);
        assertThat(report.layers()).filteredOn(l -> l.op().equals("MatMul")).hasSize(36);
        assertThat(report.layers()).allSatisfy(l -> assertThat(l.zeros()).as(l.tensor()).isEqualTo(Math.round(0.8 * l.elements())));
        assertThat(report.after().gzipBytes()).isLessThan(report.before().gzipBytes() / 2);

        OnnxModel int8 = OnnxModel.read(pruned);
        QuantizationReport quantization = DynamicQuantizer.quantize(int8, DynamicOptions.DEFAULT, CalibrationData.NONE);
        Path quantized = dir.resolve("minilm-sparse-int8.onnx");
        int8.write(quantized);

        assertThat(quantization.quantizedCount()).isGreaterThanOrEqualTo(36);
        EvaluationReport.Size size = ModelFiles.measure(quantized);
        assertThat((double) size.compressedBytes() / Files.size(fp32)).as("gzip of the sparse int8 model over the fp32 file")
                .isLessThanOrEqualTo(0.10);
        OnnxChecker.assertValid(pruned, quantized);
    }
}
