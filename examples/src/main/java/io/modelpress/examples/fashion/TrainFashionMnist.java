package io.modelpress.examples.fashion;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Command line for the Fashion-MNIST teacher recipe (the model goes to {@link FashionMnistTeacher#defaultCacheDir()}
 * unless {@code --out} says otherwise):
 * {@code TrainFashionMnist [--out FILE.onnx] [--epochs N] [--seed N] [--data-dir DIR]}, plus
 * {@code --batch N}, {@code --lr X}, {@code --train-limit N} (images per epoch) and {@code --threads N} for experiments.
 */
public final class TrainFashionMnist {
    static final String USAGE = "usage: TrainFashionMnist [--out FILE.onnx] [--epochs N] [--seed N] [--data-dir DIR]"
            + " [--batch N] [--lr X] [--train-limit N] [--threads N]";

    private TrainFashionMnist() {
    }

    public static void main(String[] args) {
        DjlSetup.offline(); // before anything touches DJL
        int status = run(args, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs the command; returns the exit status (0 done, 1 failed, 2 bad command line). */
    static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            Path model = FashionMnistTeacher.defaultCacheDir().resolve(FashionMnistTeacher.MODEL_FILE);
            FashionMnistTeacher.Options options = FashionMnistTeacher.Options.defaults();
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (flag.equals("--help") || flag.equals("-h")) {
                    out.println(USAGE);
                    return 0;
                }
                if (i + 1 >= args.length) {
                    throw badArgument(flag + " needs a value");
                }
                String value = args[++i];
                switch (flag) {
                    case "--out" -> model = Path.of(value);
                    case "--epochs" -> options = options.withEpochs(parseInt(flag, value));
                    case "--seed" -> options = options.withSeed(parseInt(flag, value));
                    case "--data-dir" -> options = options.withDataDir(Path.of(value));
                    case "--batch" -> options = options.withBatchSize(parseInt(flag, value));
                    case "--lr" -> options = options.withLearningRate(parseFloat(flag, value));
                    case "--train-limit" -> options = options.withTrainLimit(parseInt(flag, value));
                    case "--threads" -> options = options.withThreads(parseInt(flag, value));
                    default -> throw badArgument("unknown option " + flag);
                }
            }
            FashionMnistTeacher.Report report = FashionMnistTeacher.train(options, model);
            out.println(report);
            return 0;
        } catch (ModelPressException e) {
            err.println("error [" + e.code() + "] " + e.getMessage());
            return e.code() == ErrorCode.BAD_ARGUMENT ? 2 : 1;
        }
    }

    private static int parseInt(String flag, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw badArgument(flag + " needs an integer, got '" + value + "'");
        }
    }

    private static float parseFloat(String flag, String value) {
        try {
            return Float.parseFloat(value);
        } catch (NumberFormatException e) {
            throw badArgument(flag + " needs a number, got '" + value + "'");
        }
    }

    private static ModelPressException badArgument(String message) {
        return new ModelPressException(ErrorCode.BAD_ARGUMENT, "command line", message + "\n" + USAGE);
    }
}
