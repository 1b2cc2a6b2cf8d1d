package io.modelpress.pipeline.testing;

import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;

import java.util.concurrent.atomic.AtomicInteger;

/** Counts the runs of a real stage, so a test can tell recomputation from re-publication. */
public final class CountingStage implements Stage {
    private final Stage delegate;
    private final AtomicInteger runs = new AtomicInteger();

    public CountingStage(Stage delegate) {
        this.delegate = delegate;
    }

    @Override
    public StageOutcome run(StageContext context) {
        runs.incrementAndGet();
        return delegate.run(context);
    }

    public int runs() {
        return runs.get();
    }
}
