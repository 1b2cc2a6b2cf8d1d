package io.modelpress.pipeline.worker;

import io.modelpress.core.stage.ProgressListener;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.metrics.StageMetrics;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A stage attempt's progress, passed on: every call sets the progress gauge; PROGRESS events go out at most once per
 * progress interval (a stage may report per batch), without waiting for the broker. It is also the attempt's
 * heartbeat: from {@link #start} until {@link #close} a timer thread repeats the last progress whenever nothing was
 * sent for a heartbeat interval, so a stage that reports nothing for minutes (one long ONNX Runtime call) still shows
 * its worker is alive, and a worker that died shows by its silence. The timer checks four times per interval, so the
 * silence between two events stays below 1.25 intervals.
 */
final class ProgressReporter implements ProgressListener, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ProgressReporter.class.getName());

    private final StageRequest request;
    private final StageMetrics.Progress gauge;
    private final ResultPublisher results;
    private final String workerId;
    private final long intervalNanos;
    private final long heartbeatNanos;
    private final ScheduledExecutorService timer;
    private boolean sentAny;
    private long lastSentNanos;
    private double lastFraction;
    private String lastMessage;
    private boolean closed;

    private ProgressReporter(StageRequest request, StageMetrics.Progress gauge, ResultPublisher results, String workerId,
                             Duration interval, Duration heartbeatInterval) {
        this.request = request;
        this.gauge = gauge;
        this.results = results;
        this.workerId = workerId;
        this.intervalNanos = interval.toNanos();
        this.heartbeatNanos = heartbeatInterval.toNanos();
        this.timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "modelpress-heartbeat-" + request.runId());
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Sends the first PROGRESS event (fraction 0, the message) and starts the heartbeat. */
    static ProgressReporter start(StageRequest request, StageMetrics.Progress gauge, ResultPublisher results, String workerId,
                                  Duration interval, Duration heartbeatInterval, String message) {
        ProgressReporter reporter = new ProgressReporter(request, gauge, results, workerId, interval, heartbeatInterval);
        reporter.progress(0, message);
        long period = Math.max(1, reporter.heartbeatNanos / 4);
        reporter.timer.scheduleAtFixedRate(reporter::heartbeat, period, period, TimeUnit.NANOSECONDS);
        return reporter;
    }

    @Override
    public synchronized void progress(double fraction, String message) {
        double clamped = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
        gauge.set(clamped);
        lastFraction = clamped;
        lastMessage = message;
        if (sentAny && System.nanoTime() - lastSentNanos < intervalNanos) {
            return;
        }
        send();
    }

    /** Repeats the last progress (which may not have been sent yet) when nothing went out for a heartbeat interval. */
    synchronized void heartbeat() {
        try {
            if (!closed && System.nanoTime() - lastSentNanos >= heartbeatNanos) {
                send();
            }
        } catch (RuntimeException e) {
            // a scheduled task that throws is never run again: a heartbeat that cannot go out must not end the others
            LOG.log(System.Logger.Level.DEBUG, "heartbeat of run {0} not sent: {1}", request.runId(), e.toString());
        }
    }

    private void send() {
        sentAny = true;
        lastSentNanos = System.nanoTime();
        results.publishProgress(new StageResult(request.runId(), request.stageIndex(), request.attempt(), request.stageType(),
                StageResult.Status.PROGRESS, lastFraction, lastMessage, null, null, null, workerId, null, Instant.now()));
    }

    /** Stops the heartbeat: the attempt is over, and its final result must be the last event it sends. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        timer.shutdownNow();
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
