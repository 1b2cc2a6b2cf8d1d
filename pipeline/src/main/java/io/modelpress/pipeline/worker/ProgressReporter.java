package io.modelpress.pipeline.worker;

import io.modelpress.core.stage.ProgressListener;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.metrics.StageMetrics;

import java.time.Duration;
import java.time.Instant;

/**
 * A stage's progress, passed on: every call sets the progress gauge; PROGRESS events go out at most once per
 * interval (a stage may report per batch), without waiting for the broker.
 */
final class ProgressReporter implements ProgressListener {
    private final StageRequest request;
    private final StageMetrics.Progress gauge;
    private final ResultPublisher results;
    private final String workerId;
    private final long intervalNanos;
    private boolean sentAny;
    private long lastSentNanos;

    ProgressReporter(StageRequest request, StageMetrics.Progress gauge, ResultPublisher results, String workerId, Duration interval) {
        this.request = request;
        this.gauge = gauge;
        this.results = results;
        this.workerId = workerId;
        this.intervalNanos = interval.toNanos();
    }

    @Override
    public synchronized void progress(double fraction, String message) {
        double clamped = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
        gauge.set(clamped);
        long now = System.nanoTime();
        if (sentAny && now - lastSentNanos < intervalNanos) {
            return;
        }
        sentAny = true;
        lastSentNanos = now;
        results.publishProgress(new StageResult(request.runId(), request.stageIndex(), request.attempt(), request.stageType(),
                StageResult.Status.PROGRESS, clamped, message, null, null, null, workerId, null, Instant.now()));
    }
}
