package io.modelpress.worker.quantize;

import io.modelpress.core.stage.Stage;
import io.modelpress.pipeline.testing.DocStringStage;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * The stage lookup under test: a small real stage ({@link DocStringStage}: reads the ONNX model, stamps its doc
 * string, writes it) that also records the {@code note} of every run, so a test can tell a recomputation from a
 * re-published result. Replaces the default lookup (core's Stages) in this module's tests: the quantize passes are
 * tested in core; these tests are about the service around them.
 */
@Singleton
public class RecordingStages {
    static final List<String> NOTES = new CopyOnWriteArrayList<>();

    @Produces
    @Singleton
    Function<String, Stage> stages() {
        DocStringStage stage = new DocStringStage();
        return type -> context -> {
            NOTES.add(context.spec().string("note"));
            return stage.run(context);
        };
    }
}
