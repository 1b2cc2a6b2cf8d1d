package io.modelpress.pipeline.testing;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;

/**
 * A small real stage for runtime tests: reads the input with {@link OnnxModel} (so a file that is not ONNX fails
 * with NOT_ONNX), stamps the {@code note} parameter into the graph's doc string and writes the model. Parameters:
 * {@code note} (string), {@code write} (false: report only and hand the input on, like an evaluation stage),
 * {@code min_nodes} (a quality gate on the node count), {@code steps} (progress reports to make), {@code step_ms}
 * (time each step takes, to stand in for a long stage).
 */
public final class DocStringStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        OnnxModel model = OnnxModel.read(context.input());
        long steps = context.spec().has("steps") ? context.spec().integer("steps") : 3;
        long stepMillis = context.spec().has("step_ms") ? context.spec().integer("step_ms") : 0;
        for (int i = 0; i < steps; i++) {
            context.progress().progress((double) i / steps, "step " + (i + 1) + " of " + steps);
            pause(stepMillis);
        }
        String note = context.spec().has("note") ? context.spec().string("note") : "stamped";
        model.graph().setDocString(note);
        int nodes = model.graph().getNodeCount();

        ObjectNode report = JsonNodeFactory.instance.objectNode();
        report.put("nodes", nodes);
        report.put("note", note);
        report.put("threads", context.threads());
        report.put("data_files", context.data().size());
        report.put("same_original", context.original().equals(context.input()));

        String gateFailure = null;
        if (context.spec().has("min_nodes") && nodes < context.spec().integer("min_nodes")) {
            gateFailure = "the model has " + nodes + " nodes, fewer than min_nodes " + context.spec().integer("min_nodes");
        }
        boolean write = !context.spec().params().containsKey("write") || context.spec().bool("write");
        if (!write) {
            return new StageOutcome(context.input(), report, gateFailure);
        }
        model.write(context.outputModel());
        return new StageOutcome(context.outputModel(), report, gateFailure);
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
