package io.modelpress.core.graph;

import io.modelpress.core.onnx.OnnxModel;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/** Runs a mode's declared list of passes, and makes the small passes that need no class of their own. */
public final class Passes {
    private Passes() {
    }

    /**
     * The passes given, in order, leaving out the nulls: a mode writes its list as one expression with
     * {@code condition ? pass : null} for the passes its settings switch off.
     */
    public static List<Pass<?>> of(Pass<?>... passes) {
        List<Pass<?>> list = new ArrayList<>();
        for (Pass<?> pass : passes) {
            if (pass != null) {
                list.add(pass);
            }
        }
        return List.copyOf(list);
    }

    /** Applies each pass to the model in turn; the report takes in every result. */
    public static void run(OnnxModel model, List<Pass<?>> passes, PassReport report) {
        for (Pass<?> pass : passes) {
            report.add(pass.apply(model));
        }
    }

    /** A pass without settings whose work fits in a function. */
    public static Pass<Pass.NoOptions> simple(String name, Function<OnnxModel, PassResult> body) {
        Objects.requireNonNull(body);
        return new Pass.WithoutOptions() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public PassResult apply(OnnxModel model) {
                return body.apply(model);
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }

    /** Puts the nodes in topological order when an exporter did not: the rewrites that follow rely on it. */
    public static Pass<Pass.NoOptions> topologicalOrder() {
        return simple("topological_order", model -> {
            GraphEditor.sortTopologically(model);
            return PassResult.of("topological_order");
        });
    }

    /** A pass that changes nothing and files one note, e.g. why a step was left out. */
    public static Pass<Pass.NoOptions> note(String key, String text) {
        return simple(key, model -> PassResult.of(key).note(key, text));
    }
}
