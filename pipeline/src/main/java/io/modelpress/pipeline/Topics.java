package io.modelpress.pipeline;

/** Kafka topic names (see docs/architecture.md). Stage topics are keyed by run id so one run's events stay ordered. */
public final class Topics {
    public static final String BUCKET_EVENTS = "modelpress.bucket-events";
    public static final String STAGE_RESULTS = "modelpress.stage-results";
    /** Compacted: the latest state of every run, so an orchestrator restarts without losing runs. */
    public static final String RUNS = "modelpress.runs";
    private static final String STAGE_PREFIX = "modelpress.stage.";

    private Topics() {
    }

    /** Requests for one stage type, e.g. {@code modelpress.stage.quantize}. */
    public static String stage(String stageType) {
        return STAGE_PREFIX + stageType;
    }

    /** The stage type a stage topic carries: {@code modelpress.stage.quantize} -> {@code quantize}. */
    public static String stageTypeOf(String topic) {
        if (!topic.startsWith(STAGE_PREFIX) || topic.endsWith(".dlq")) {
            throw new IllegalArgumentException(topic + " is not a stage request topic (" + STAGE_PREFIX + "<type>)");
        }
        return topic.substring(STAGE_PREFIX.length());
    }

    /** Requests that failed past their retries, e.g. {@code modelpress.stage.quantize.dlq}. */
    public static String deadLetters(String stageType) {
        return stage(stageType) + ".dlq";
    }
}
