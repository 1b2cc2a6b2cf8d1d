package io.modelpress.pipeline.metrics;

/**
 * Metric names exactly as Prometheus shows them at {@code /q/metrics} (Micrometer keeps names that already end in
 * the unit or {@code _total}). Series labelled by run exist only while the run's stage is active or for a short
 * retention window after it, so label cardinality stays bounded; long-term per-run results live in the reports.
 */
public final class MetricNames {
    // --- BLUEPRINT.md "Metrics"
    /** Histogram of stage attempts by {@code stage} (type) and {@code outcome} ({@link Outcome}). */
    public static final String STAGE_DURATION = "modelpress_stage_duration_seconds";
    /** Stage attempts running now, by {@code stage}. */
    public static final String STAGE_INFLIGHT = "modelpress_stage_inflight";
    /** 0..1 by {@code run} and {@code stage}; removed when the attempt ends. */
    public static final String STAGE_PROGRESS = "modelpress_stage_progress_ratio";
    /** Model size by {@code run} and {@code phase} (the stage label, e.g. {@code 01-quantize}); kept for the retention window. */
    public static final String MODEL_BYTES = "modelpress_model_bytes";
    // the orchestrator's: modelpress_runs_total, modelpress_runs_active, modelpress_compression_ratio,
    // modelpress_quality_delta, modelpress_stage_stalls_total{stage}, modelpress_stage_stalled{stage}

    // --- worker hand-off and failure handling
    /** Histogram of artifact transfers by {@code stage} and {@code phase} (download, upload). */
    public static final String STAGE_HANDOFF = "modelpress_stage_handoff_seconds";
    /** Bytes moved between the worker and the store, by {@code stage} and {@code direction} (download, upload). */
    public static final String STAGE_TRANSFER_BYTES = "modelpress_stage_transfer_bytes_total";
    /** Transient failures that were retried, by {@code stage} and {@code phase}. */
    public static final String STAGE_RETRIES = "modelpress_stage_retries_total";
    /** Requests sent to the dead-letter topic, by {@code stage}. */
    public static final String STAGE_DEAD_LETTERS = "modelpress_stage_dead_letters_total";
    /** Requests whose attempt had already finished: the stored result was re-published, by {@code stage}. */
    public static final String STAGE_DUPLICATES = "modelpress_stage_duplicates_total";
    /** Counter by stage and result (hit, miss, stored): the workers' shared result cache. */
    public static final String STAGE_CACHE = "modelpress_stage_cache_total";

    private MetricNames() {
    }

    /** Values of the {@code outcome} label of {@link #STAGE_DURATION}. */
    public enum Outcome {
        /** The stage ran and its gate (if any) passed. */
        SUCCEEDED,
        /** The stage ran but its quality gate failed. */
        GATE_FAILED,
        /** A permanent error (bad model, bad parameters, missing input). */
        FAILED,
        /** Transient errors outlasted the retries; the request went to the dead-letter topic. */
        DEAD_LETTERED,
        /** The deadline had passed before the stage started. */
        EXPIRED;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
