package io.modelpress.examples.fashion;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Short runs (2,000 images, one epoch) and the error paths. */
class ShortRunTest {
    @TempDir
    Path dir;

    private static FashionMnistTeacher.Options shortRun(int seed) {
        return FashionMnistTeacher.Options.defaults().withEpochs(1).withTrainLimit(2_000).withSeed(seed);
    }

    private static void assumeDataset() {
        assumeTrue(FashionMnist.isPresent(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST is not installed: " + FashionMnist.INSTALL_HINT);
    }

    @Test
    void sameSeedGivesTheSameModelAndAnotherSeedAnotherOne() throws Exception {
        assumeDataset();
        FashionMnistTeacher.Report first = FashionMnistTeacher.train(shortRun(7), dir.resolve("a.onnx"));
        FashionMnistTeacher.Report again = FashionMnistTeacher.train(shortRun(7), dir.resolve("b.onnx"));
        FashionMnistTeacher.Report other = FashionMnistTeacher.train(shortRun(8), dir.resolve("c.onnx"));

        assertThat(Files.readAllBytes(again.model())).isEqualTo(Files.readAllBytes(first.model()));
        assertThat(again.epochLosses()).isEqualTo(first.epochLosses());
        assertThat(Files.readAllBytes(other.model())).isNotEqualTo(Files.readAllBytes(first.model()));
        // even 2,000 images teach far more than chance (10%); DJL and ONNX Runtime agree
        assertThat(first.djlTestAccuracy()).isGreaterThan(0.6);
        assertThat(first.onnxTestAccuracy()).isEqualTo(first.djlTestAccuracy(), org.assertj.core.api.Assertions.within(0.002));
    }

    @Test
    void commandLineTrainsAndWritesTheModelWhereAsked() {
        assumeDataset();
        Path model = dir.resolve("cli/teacher.onnx");
        ByteArrayOutputStream out = new ByteArrayOutputStream();

        int status = TrainFashionMnist.run(new String[] {"--out", model.toString(), "--epochs", "1", "--train-limit", "1000",
                "--seed", "3", "--data-dir", FashionMnist.DEFAULT_DIR.toString()}, new PrintStream(out), System.err);

        assertThat(status).isZero();
        assertThat(model).isRegularFile();
        assertThat(out.toString()).contains("epochs 1, 1000 training images per epoch", "test accuracy DJL");
    }

    @Test
    void shortRunIsNotMistakenForTheTeacherRecipe() {
        assumeDataset();
        Path cached = dir.resolve(FashionMnistTeacher.MODEL_FILE);
        FashionMnistTeacher.train(shortRun(5), cached);

        assertThat(FashionMnistTeacher.recipeKeyOf(cached)).isEqualTo("epochs=1 seed=5 batch=64 lr=0.001 train-limit=2000")
                .isNotEqualTo(FashionMnistTeacher.Options.defaults().recipeKey());
        assertThat(FashionMnistTeacher.recipeKeyOf(dir.resolve("absent.onnx"))).isNull();
    }

    @Test
    void missingDatasetNamesTheDirectoryAndThePackage() {
        assertThatThrownBy(() -> FashionMnistTeacher.train(shortRun(1).withDataDir(dir), dir.resolve("m.onnx")))
                .isInstanceOfSatisfying(ModelPressException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT))
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("apt-get install dataset-fashion-mnist");
        assertThat(dir.resolve("m.onnx")).doesNotExist();
    }

    @Test
    void badCommandLineIsRejectedWithUsage() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();

        int status = TrainFashionMnist.run(new String[] {"--epochs", "many"}, System.out, new PrintStream(err));

        assertThat(status).isEqualTo(2);
        assertThat(err.toString()).contains("--epochs needs an integer, got 'many'", "usage: TrainFashionMnist");
    }

    @Test
    void badOptionsAreRejected() {
        assertThatThrownBy(() -> FashionMnistTeacher.Options.defaults().withEpochs(0))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("epochs 0");
    }
}
