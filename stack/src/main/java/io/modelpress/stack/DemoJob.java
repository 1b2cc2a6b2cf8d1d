package io.modelpress.stack;

/**
 * The demo's job, shared by {@code modelpress demo} and the pipeline benchmark: all-MiniLM-L6-v2 (fp32, from
 * {@link io.modelpress.core.ReferenceModels}) with its tokenizer and example sentences, to dynamic INT8, judged against
 * the fp32 original.
 */
public final class DemoJob {
    /** Dynamic INT8 and an evaluation against the fp32 original, with a fidelity gate. */
    public static final String RECIPE = """
            # modelpress demo: all-MiniLM-L6-v2 to dynamic INT8, judged against the fp32 original
            name: minilm-int8-demo
            stages:
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, latency, size], samples: 256, gate: { min_cosine: 0.98 } }
            """;
    /** Sample sentences (JSONL), relative to the project root. */
    public static final String DATA = "examples/data/sentences-eval.jsonl";
    /** The model's name: results go to outgoing/all-minilm-l6-v2/&lt;run&gt;/. */
    public static final String NAME = "all-minilm-l6-v2";

    private DemoJob() {
    }
}
