package io.modelpress.cli;

import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.SessionSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.Callable;

@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Measure a model on data: accuracy, fidelity to a reference model (cosine, MSE, KL, agreement), "
                + "latency at batch 1 and N, throughput, size.")
final class EvaluateCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "the .onnx file to evaluate")
    Path model;

    @Option(names = "--reference", paramLabel = "REF", description = "compare against this model (e.g. the original)")
    Path reference;

    @Option(names = "--data", paramLabel = "DATA",
            description = ".npz/.npy arrays named like the model inputs (optional 'labels'), IDX images (MNIST), or JSONL text; "
                    + "without it, seeded synthetic inputs (timing and a rough comparison only)")
    Path data;

    @Option(names = "--shape", paramLabel = "NAME=DIMS", description = "shape of a model input with symbolic dimensions, for "
            + "synthetic inputs, e.g. input=1x512 (repeatable)")
    List<String> shapes = new ArrayList<>();

    @Option(names = "--value", paramLabel = "NAME=V", description = "a constant for a model input, e.g. sr=16000: fills synthetic "
            + "inputs and inputs the data file does not hold (repeatable)")
    List<String> values = new ArrayList<>();

    @Option(names = "--tokenizer", paramLabel = "TOKENIZER_JSON",
            description = "HuggingFace tokenizer.json for text data (default: tokenizer.json beside the model)")
    Path tokenizer;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "32", description = "batch size (default ${DEFAULT-VALUE})")
    int batch;

    @Mixin
    ThreadsOption threads;

    @Option(names = "--samples", paramLabel = "S", description = "evaluate at most S samples")
    Long samples;

    @Option(names = "--max-tokens", paramLabel = "L", defaultValue = "128", description = "truncate text at L tokens (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--no-latency", description = "skip latency measurement")
    boolean noLatency;

    @Mixin
    JsonOption json;

    @Mixin
    Console console;

    @Override
    public Integer call() {
        DataOptions options = DataOptions.DEFAULT.withTokenizer(tokenizer).withMaxTokens(maxTokens);
        if (samples != null) {
            options = options.withLimit(samples);
        }
        options = options.withHints(InputHints.parse(shapes, values));
        EvaluationRequest request = EvaluationRequest.of(model, data).withDataOptions(options).withBatchSize(batch)
                .withSession(SessionSettings.DEFAULT.withThreads(threads.count()));
        if (reference != null) {
            request = request.withReference(reference);
        }
        if (noLatency) {
            request = request.withLatencyBudget(Duration.ZERO);
        }
        EvaluationReport report = Evaluator.run(request);
        PrintWriter out = console.out();
        out.println(json.requested ? Format.json(report.toJson()) : report.toText());
        out.flush();
        return 0;
    }
}
