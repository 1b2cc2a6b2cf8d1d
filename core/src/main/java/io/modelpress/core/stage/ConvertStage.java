package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.convert.AutoMixedPrecision;
import io.modelpress.core.convert.ConversionReport;
import io.modelpress.core.convert.Float16Converter;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.CalibrationData;
import io.modelpress.core.quantize.DatasetCalibration;
import io.modelpress.core.recipe.StageSpec;

import java.nio.file.Path;

/**
 * Converts the model's float type (fp16 today), keeping float32 at the edges unless told otherwise, and checks the
 * result against the input model in ONNX Runtime on the run's data (seeded synthetic inputs when there is none). A
 * check that fails is the stage's gate failure: the run fails rather than publish a model that lost its outputs.
 */
final class ConvertStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        context.progress().progress(0.0, "reading " + context.input().getFileName());
        OnnxModel model = OnnxModel.read(context.input());
        StageSpec spec = context.spec();
        Float16Converter.Options options = Float16Converter.options(spec);
        int samples = spec.has("check_samples") ? (int) spec.integer("check_samples") : AutoMixedPrecision.DEFAULT_SAMPLES;
        double minCosine = spec.has("min_cosine") ? spec.number("min_cosine") : AutoMixedPrecision.DEFAULT_MIN_COSINE;
        Path data = context.calibrationData();
        CalibrationData batches = data != null ? DatasetCalibration.forModel(model, data, context.tokenizer(), context.hints())
                : new DatasetCalibration(null, model.inputs(), DataOptions.DEFAULT.withLimit(Math.max(1, samples)).withHints(context.hints()));
        String dataName = data != null ? data.getFileName().toString() : "synthetic inputs (no data given)";
        context.progress().progress(0.1, "converting to fp16 and checking it on " + dataName);
        ConversionReport report = AutoMixedPrecision.convert(model, options, new AutoMixedPrecision.Settings(batches, dataName,
                samples, minCosine, context.threads()));
        context.progress().progress(0.9, "writing the converted model");
        model.write(context.outputModel());
        ObjectNode json = report.toJson();
        json.put("input_bytes", OnnxModel.fileBytes(context.input()));
        json.put("output_bytes", OnnxModel.fileBytes(context.outputModel()));
        String gateFailure = report.check() == null || report.check().passed() ? null : report.check().failure();
        return new StageOutcome(context.outputModel(), json, gateFailure);
    }
}
