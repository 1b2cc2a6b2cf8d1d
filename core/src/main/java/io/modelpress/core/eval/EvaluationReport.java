package io.modelpress.core.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@link Evaluator#run} measured. {@link #toJson()} writes these keys; a key is absent when it does not apply
 * (no labels: no accuracy; no reference: no agreement, outputs or reference_*; no timed runs: no latency). Non-finite
 * numbers (a model that outputs NaN) are written as null.
 *
 * <table>
 * <caption>Report keys</caption>
 * <tr><th>key</th><th>meaning</th></tr>
 * <tr><td>{@code model}, {@code reference}</td><td>the model file and the reference model file evaluated against</td></tr>
 * <tr><td>{@code samples}</td><td>number of samples evaluated</td></tr>
 * <tr><td>{@code threads}</td><td>ONNX Runtime intra-op threads per session (timings depend on it)</td></tr>
 * <tr><td>{@code accuracy}</td><td>top-1 accuracy of the model against the data's labels, 0..1: argmax over the last
 *     axis of the class output (or the class index, for an integer output)</td></tr>
 * <tr><td>{@code reference_accuracy}</td><td>the same for the reference model</td></tr>
 * <tr><td>{@code agreement}</td><td>fraction of samples where model and reference predict the same class</td></tr>
 * <tr><td>{@code accuracy_output}</td><td>the model output accuracy and agreement were computed from</td></tr>
 * <tr><td>{@code outputs}</td><td>per floating-point model output, compared with the matching reference output
 *     (matched by name, else by position; {@code reference_output} names it when the names differ):
 *     <ul>
 *     <li>{@code cosine {mean, min}}: cosine similarity per sample over samples. A sample is the flattened output
 *         row, except for [batch, tokens, hidden] outputs of masked (text) data, where it is the attention-mask-weighted
 *         mean over tokens: the sentence embedding</li>
 *     <li>{@code token_cosine {mean, min}}: for those pooled outputs, the cosine of the sample's real (unmasked)
 *         tokens, flattened</li>
 *     <li>{@code mse {mean, max}}: mean squared error per sample (over real tokens for masked outputs)</li>
 *     <li>{@code kl {mean, max}}: KL(softmax(reference) || softmax(model)) over the last axis, for rank-2 outputs
 *         (logits) only, in nats</li>
 *     </ul></td></tr>
 * <tr><td>{@code latency_ms}</td><td>{@code batch_1 {p50, p95, mean}} and {@code batch_N {batch, p50, p95, mean}}:
 *     milliseconds per run of the model (including tensor copies in and out) over every timed run, after warm-up, on
 *     the data's first batch of that size; {@code batch_N} is absent when the batch size is 1, {@code batch_1} when
 *     the model fixes its batch size above 1. Model and reference are timed together ({@link InterleavedTiming}: fresh
 *     session pairs, interleaved rounds), so their numbers are comparable</td></tr>
 * <tr><td>{@code latency_vs_reference}</td><td>{@code batch_1} and {@code batch_N} (with {@code batch}), each
 *     {@code ratio} (model time / reference time: the median over session pairs of each pair's median per-round
 *     ratio; above 1 is slower), {@code ratio_min} and {@code ratio_max} (the spread over the pairs), {@code pairs},
 *     {@code verdict} ({@code "faster"}, {@code "slower"} or {@code "no measurable difference"}, by the rule on
 *     {@link LatencyComparison}) and {@code text}, the same in words (e.g. "1.57x slower at batch 1 (1.49x-1.63x in
 *     12 session pairs)")</td></tr>
 * <tr><td>{@code throughput_per_s}</td><td>samples per second at batch N (at batch 1 when N is 1): batch size / mean
 *     latency</td></tr>
 * <tr><td>{@code file_bytes}</td><td>size of the model file plus its external data files</td></tr>
 * <tr><td>{@code compressed_bytes}</td><td>the same files gzip-compressed (default level), as shipped</td></tr>
 * <tr><td>{@code reference_latency_ms}, {@code reference_throughput_per_s}, {@code reference_file_bytes},
 *     {@code reference_compressed_bytes}</td><td>the same measurements for the reference model</td></tr>
 * <tr><td>{@code non_finite_values}, {@code reference_non_finite_values}</td><td>per floating-point output that
 *     held any: how many NaN or infinite values the model (the reference) returned over all samples; absent when
 *     none did. Each also gives a note starting "warning:"</td></tr>
 * <tr><td>{@code notes}</td><td>things the user should know: warnings (NaN or infinite outputs), metrics skipped and
 *     why, samples left out</td></tr>
 * </table>
 */
public record EvaluationReport(
        String model,
        String reference,
        long samples,
        int threads,
        String accuracyOutput,
        Double accuracy,
        Double referenceAccuracy,
        Double agreement,
        Map<String, OutputMetrics> outputs,
        Timings timings,
        Timings referenceTimings,
        SpeedComparison speed,
        Map<String, Long> nonFiniteValues,
        Map<String, Long> referenceNonFiniteValues,
        Size size,
        Size referenceSize,
        List<String> notes) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public EvaluationReport {
        outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
        nonFiniteValues = Collections.unmodifiableMap(new LinkedHashMap<>(nonFiniteValues));
        referenceNonFiniteValues = Collections.unmodifiableMap(new LinkedHashMap<>(referenceNonFiniteValues));
        notes = List.copyOf(notes);
    }

    /** A mean over samples and the worst sample: the minimum for cosines, the maximum for errors. */
    public record Spread(double mean, double worst) {
    }

    /**
     * Fidelity of one output against the reference.
     *
     * @param referenceOutput the reference output it was compared with
     * @param tokenCosine     null unless the output was mask-pooled
     * @param kl              null unless the output has rank 2
     */
    public record OutputMetrics(String referenceOutput, Spread cosine, Spread tokenCosine, Spread mse, Spread kl) {
    }

    /** Milliseconds per run at one batch size. */
    public record Latency(int batch, double p50Ms, double p95Ms, double meanMs) {
    }

    /**
     * @param batch1 null when the model fixes its batch size above 1
     * @param batchN null when the batch size is 1
     */
    public record Timings(Latency batch1, Latency batchN, double throughputPerS) {
    }

    /**
     * The model's latency against the reference's, from the same interleaved rounds.
     *
     * @param batch1 null when the model fixes its batch size above 1
     * @param batchN null when the batch size is 1
     */
    public record SpeedComparison(LatencyComparison batch1, LatencyComparison batchN) {
    }

    public record Size(long fileBytes, long compressedBytes) {
    }

    public ObjectNode toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("model", model);
        if (reference != null) {
            root.put("reference", reference);
        }
        root.put("samples", samples);
        root.put("threads", threads);
        putNumber(root, "accuracy", accuracy);
        putNumber(root, "reference_accuracy", referenceAccuracy);
        putNumber(root, "agreement", agreement);
        if (accuracy != null || agreement != null) {
            root.put("accuracy_output", accuracyOutput);
        }
        if (!outputs.isEmpty()) {
            ObjectNode outs = root.putObject("outputs");
            outputs.entrySet().forEach(e -> {
                ObjectNode o = outs.putObject(e.getKey());
                OutputMetrics m = e.getValue();
                if (!m.referenceOutput().equals(e.getKey())) {
                    o.put("reference_output", m.referenceOutput());
                }
                putSpread(o, "cosine", m.cosine(), "min");
                putSpread(o, "token_cosine", m.tokenCosine(), "min");
                putSpread(o, "mse", m.mse(), "max");
                putSpread(o, "kl", m.kl(), "max");
            });
        }
        putTimings(root, "", timings);
        putSpeed(root, speed);
        putCounts(root, "non_finite_values", nonFiniteValues);
        putCounts(root, "reference_non_finite_values", referenceNonFiniteValues);
        root.put("file_bytes", size.fileBytes());
        root.put("compressed_bytes", size.compressedBytes());
        putTimings(root, "reference_", referenceTimings);
        if (referenceSize != null) {
            root.put("reference_file_bytes", referenceSize.fileBytes());
            root.put("reference_compressed_bytes", referenceSize.compressedBytes());
        }
        if (!notes.isEmpty()) {
            ArrayNode array = root.putArray("notes");
            notes.forEach(array::add);
        }
        return root;
    }

    private static void putTimings(ObjectNode root, String prefix, Timings t) {
        if (t == null) {
            return;
        }
        ObjectNode latency = root.putObject(prefix + "latency_ms");
        if (t.batch1() != null) {
            putLatency(latency.putObject("batch_1"), t.batch1(), false);
        }
        if (t.batchN() != null) {
            putLatency(latency.putObject("batch_N"), t.batchN(), true);
        }
        putNumber(root, prefix + "throughput_per_s", t.throughputPerS());
    }

    private static void putSpeed(ObjectNode root, SpeedComparison speed) {
        if (speed == null) {
            return;
        }
        ObjectNode node = root.putObject("latency_vs_reference");
        putComparison(node, "batch_1", speed.batch1(), false);
        putComparison(node, "batch_N", speed.batchN(), true);
    }

    private static void putComparison(ObjectNode parent, String key, LatencyComparison c, boolean withBatch) {
        if (c == null) {
            return;
        }
        ObjectNode node = parent.putObject(key);
        if (withBatch) {
            node.put("batch", c.batch());
        }
        putNumber(node, "ratio", c.ratio());
        putNumber(node, "ratio_min", c.ratioMin());
        putNumber(node, "ratio_max", c.ratioMax());
        node.put("pairs", c.pairs());
        node.put("verdict", c.verdict().text());
        node.put("text", c.text());
    }

    private static void putCounts(ObjectNode root, String key, Map<String, Long> counts) {
        if (!counts.isEmpty()) {
            ObjectNode node = root.putObject(key);
            counts.forEach(node::put);
        }
    }

    private static void putLatency(ObjectNode node, Latency latency, boolean withBatch) {
        if (withBatch) {
            node.put("batch", latency.batch());
        }
        putNumber(node, "p50", latency.p50Ms());
        putNumber(node, "p95", latency.p95Ms());
        putNumber(node, "mean", latency.meanMs());
    }

    private static void putSpread(ObjectNode node, String key, Spread spread, String worstKey) {
        if (spread == null) {
            return;
        }
        ObjectNode o = node.putObject(key);
        putNumber(o, "mean", spread.mean());
        putNumber(o, worstKey, spread.worst());
    }

    private static void putNumber(ObjectNode node, String key, Double value) {
        if (value == null) {
            return;
        }
        if (Double.isFinite(value)) {
            node.put(key, value);
        } else {
            node.putNull(key);
        }
    }

    /** A summary for terminals. */
    public String toText() {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "model       %s  (%s, %s gzip)%n", model, bytes(size.fileBytes()), bytes(size.compressedBytes())));
        if (reference != null) {
            out.append(String.format(Locale.ROOT, "reference   %s  (%s, %s gzip)%n", reference,
                    bytes(referenceSize.fileBytes()), bytes(referenceSize.compressedBytes())));
        }
        out.append(String.format(Locale.ROOT, "samples     %d%n", samples));
        if (accuracy != null) {
            out.append(String.format(Locale.ROOT, "accuracy    %.4f", accuracy));
            if (referenceAccuracy != null) {
                out.append(String.format(Locale.ROOT, "  (reference %.4f, change %+.4f)", referenceAccuracy, accuracy - referenceAccuracy));
            }
            out.append(String.format(Locale.ROOT, "  [output %s]%n", accuracyOutput));
        }
        if (agreement != null) {
            out.append(String.format(Locale.ROOT, "agreement   %.4f  (same top-1 class as the reference)%n", agreement));
        }
        outputs.entrySet().forEach(e -> {
            OutputMetrics m = e.getValue();
            out.append("output '").append(e.getKey()).append("'");
            if (!m.referenceOutput().equals(e.getKey())) {
                out.append(" vs reference '").append(m.referenceOutput()).append("'");
            }
            out.append(System.lineSeparator());
            out.append(String.format(Locale.ROOT, "  cosine        mean %.5f  min %.5f%s%n", m.cosine().mean(), m.cosine().worst(),
                    m.tokenCosine() != null ? "  (mask-weighted mean over tokens)" : ""));
            if (m.tokenCosine() != null) {
                out.append(String.format(Locale.ROOT, "  token cosine  mean %.5f  min %.5f%n", m.tokenCosine().mean(), m.tokenCosine().worst()));
            }
            out.append(String.format(Locale.ROOT, "  mse           mean %.3g  max %.3g%n", m.mse().mean(), m.mse().worst()));
            if (m.kl() != null) {
                out.append(String.format(Locale.ROOT, "  kl            mean %.3g  max %.3g%n", m.kl().mean(), m.kl().worst()));
            }
        });
        if (timings != null) {
            out.append(String.format(Locale.ROOT, "latency     %d thread%s, ms per run: p50 / p95%s%n", threads, threads == 1 ? "" : "s",
                    referenceTimings != null ? "   (reference)" : ""));
            if (timings.batch1() != null) {
                appendLatency(out, timings.batch1(), referenceTimings == null ? null : referenceTimings.batch1());
            }
            if (timings.batchN() != null) {
                appendLatency(out, timings.batchN(), referenceTimings == null ? null : referenceTimings.batchN());
            }
            out.append(String.format(Locale.ROOT, "throughput  %.1f samples/s", timings.throughputPerS()));
            if (referenceTimings != null) {
                out.append(String.format(Locale.ROOT, "   (reference %.1f)", referenceTimings.throughputPerS()));
            }
            out.append(System.lineSeparator());
        }
        if (speed != null) {
            for (LatencyComparison c : new LatencyComparison[] {speed.batch1(), speed.batchN()}) {
                if (c != null) {
                    out.append("speed       ").append(c.text()).append(System.lineSeparator());
                }
            }
        }
        for (String note : notes) {
            out.append(note.startsWith("warning:") ? "" : "note: ").append(note).append(System.lineSeparator());
        }
        return out.toString();
    }

    private static void appendLatency(StringBuilder out, Latency latency, Latency reference) {
        out.append(String.format(Locale.ROOT, "  batch %-4d  %8.2f / %8.2f", latency.batch(), latency.p50Ms(), latency.p95Ms()));
        if (reference != null) {
            out.append(String.format(Locale.ROOT, "   (%8.2f / %8.2f)", reference.p50Ms(), reference.p95Ms()));
        }
        out.append(System.lineSeparator());
    }

    private static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        if (n < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1f MiB", n / (1024.0 * 1024));
    }
}
