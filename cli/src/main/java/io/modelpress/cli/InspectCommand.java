package io.modelpress.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.stats.ModelStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Validate a model and show what it is made of: inputs, outputs, operators, parameters, MACs, sparsity.")
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "the .onnx file")
    Path model;

    @Mixin
    JsonOption json;

    @Option(names = "--dim", paramLabel = "NAME=VALUE",
            description = "value of a symbolic input dimension for MAC counting, e.g. --dim sequence_length=128 (default 1)")
    Map<String, Long> dims = new LinkedHashMap<>();

    @Option(names = "--no-run", description = "do not run the model in ONNX Runtime to learn shapes (MACs may be unknown)")
    boolean noRun;

    @Mixin
    Console console;

    @Override
    public Integer call() {
        OnnxModel onnx = OnnxModel.read(model);
        ModelStats stats = ModelStats.of(model, onnx, new ModelStats.Options(dims, !noRun));
        PrintWriter out = console.out();
        if (json.requested) {
            ObjectNode node = stats.toJson();
            node.put("model", model.toString());
            out.println(Format.json(node));
        } else {
            printText(out, stats);
        }
        out.flush();
        return 0;
    }

    private void printText(PrintWriter out, ModelStats s) {
        String opsets = s.opsets().entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", "));
        out.printf("model       %s (%s%s)%n", model, Format.bytes(s.fileBytes()),
                s.externalDataBytes() > 0 ? " + " + Format.bytes(s.externalDataBytes()) + " external data" : "");
        out.printf("format      IR %d, opsets %s%s%n", s.irVersion(), opsets, s.producer().isEmpty() ? "" : ", made by " + s.producer());
        out.printf("inputs      %s%n", s.inputs().stream().map(ValueShape::toString).collect(Collectors.joining("; ")));
        out.printf("outputs     %s%n", s.outputs().stream().map(ValueShape::toString).collect(Collectors.joining("; ")));
        out.printf("parameters  %s  (%s)%n", Format.count(s.parameters()), s.bytesByType().entrySet().stream()
                .map(e -> e.getKey() + " " + Format.bytes(e.getValue())).collect(Collectors.joining(", ")));
        out.printf(Locale.ROOT, "sparsity    %.2f%% of floating-point weights are zero%n", s.sparsity() * 100);
        String assumed = s.assumedDims().isEmpty() ? "" : " at " + s.assumedDims().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
        String uncounted = s.uncountedMacOps().entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", "));
        out.printf("MACs        %s%s%s%n", s.macs() == null ? "unknown" : Format.count(s.macs()), assumed,
                uncounted.isEmpty() ? "" : " (not counted: " + uncounted + ")");
        out.printf("nodes       %d: %s%n", s.nodes(), s.ops().entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", ")));
    }
}
