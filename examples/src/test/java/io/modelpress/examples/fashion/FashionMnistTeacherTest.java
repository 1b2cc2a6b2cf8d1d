package io.modelpress.examples.fashion;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The full recipe (about 100 s of CPU, one thread), run once for the class into the shared models folder, where
 * {@link TeacherStaticQuantizationTest} and the benchmarks find it. Needs the Debian dataset.
 */
@Order(1)
class FashionMnistTeacherTest {
    private static final Path cacheDir = FashionMnistTeacher.defaultCacheDir();
    private static FashionMnistTeacher.Report report;

    @BeforeAll
    static void trainTheDefaultRecipe() {
        assumeTrue(FashionMnist.isPresent(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST is not installed: " + FashionMnist.INSTALL_HINT);
        report = FashionMnistTeacher.train(FashionMnistTeacher.Options.defaults(),
                cacheDir.resolve(FashionMnistTeacher.MODEL_FILE));
        System.out.println("Fashion-MNIST teacher: " + report);
    }

    @Test
    void reachesNinetyPercentOnTheTestSetInDjlAndInOnnxRuntime() {
        assertThat(report.djlTestAccuracy()).isGreaterThanOrEqualTo(0.90);
        assertThat(report.onnxTestAccuracy()).isGreaterThanOrEqualTo(0.90);
        assertThat(100 * report.onnxTestAccuracy())
                .isCloseTo(100 * report.djlTestAccuracy(), within(FashionMnistTeacher.MAX_ACCURACY_GAP_POINTS));
        assertThat(report.trainImagesPerEpoch()).isEqualTo(60_000);
        assertThat(report.epochLosses()).hasSize(4);
        assertThat(report.epochLosses().get(3)).isLessThan(report.epochLosses().get(0));
    }

    @Test
    void exportedModelTakesABatchOfImagesAndRecordsTheRecipe() {
        ModelProto model = OnnxModel.read(report.model()).build();

        assertThat(ValueShape.of(model.getGraph().getInput(0)).toString()).isEqualTo("input: float[batch,1,28,28]");
        assertThat(ValueShape.of(model.getGraph().getOutput(0)).toString()).isEqualTo("logits: float[batch,10]");
        Map<String, String> metadata = model.getMetadataPropsList().stream()
                .collect(Collectors.toMap(StringStringEntryProto::getKey, StringStringEntryProto::getValue));
        assertThat(metadata).containsEntry("modelpress.recipe_options", "epochs=4 seed=42 batch=64 lr=0.001 train-limit=0");
        assertThat(Double.parseDouble(metadata.get("modelpress.test_accuracy_djl")))
                .isCloseTo(report.djlTestAccuracy(), within(1e-4));
    }

    @Test
    void trainOrLoadReturnsTheCachedModelWithoutTraining() throws Exception {
        Path cached = cacheDir.resolve(FashionMnistTeacher.MODEL_FILE);
        FileTime written = Files.getLastModifiedTime(cached);
        byte[] bytes = Files.readAllBytes(cached);

        Path model = FashionMnistTeacher.trainOrLoad(cacheDir);

        assertThat(model).isEqualTo(cached);
        assertThat(Files.getLastModifiedTime(model)).isEqualTo(written);
        assertThat(Files.readAllBytes(model)).isEqualTo(bytes);
    }
}
