package io.modelpress.core.quantize.dynamic;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * Side-by-side benchmark (not a test): all-MiniLM-L6-v2 fp32, ONNX Runtime's own dynamic int8 release ({@code -q}),
 * and this quantizer's output: size, latency (1 and 2 threads; 32x128 and 1x32 tokens; medians after warm-up, the
 * models interleaved so that machine noise hits all alike), cosine of mean-pooled embeddings to fp32 on the eval
 * sentences, and the time quantization took.
 *
 * <p>System properties: {@code bench.runs} (timed runs per cell, default 15), {@code bench.latency} (false skips
 * timing), {@code bench.smoothquant} (alpha or "false"), {@code bench.outliers}, {@code bench.keepFloat},
 * {@code bench.samples} (calibration samples), {@code bench.mergeSiblings}, {@code bench.sequenceMajor},
 * {@code bench.exclude} (node name pattern kept float), {@code bench.extra} (more models to time, comma-separated),
 * {@code bench.cpu} (thread CPU time instead of wall time, 1 thread), {@code bench.maxThreads}, {@code bench.onlyLarge},
 * {@code bench.min} (minimum instead of median), {@code bench.sessions} (sessions per model, default 3),
 * {@code bench.dataFree}, {@code bench.out} (where to keep the quantized model), {@code bench.model} (another fp32
 * model with the same inputs and vocabulary to quantize instead of MiniLM; fidelity is measured against it) and
 * {@code bench.reference} (that model's ONNX Runtime quantized release, the latency baseline).
 */
public final class DynamicBench {
    /** Position of ONNX Runtime's -q model among the benchmarked models: the baseline of the ratios. */
    private static final int REFERENCE = 1;

    private DynamicBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = Integer.getInteger("bench.runs", 15);
        boolean latency = Boolean.parseBoolean(System.getProperty("bench.latency", "true"));
        DynamicOptions options = DynamicOptions.DEFAULT;
        String alpha = System.getProperty("bench.smoothquant");
        if (alpha != null) {
            options = options.withSmoothQuant(alpha.equals("false") ? OptionalDouble.empty() : OptionalDouble.of(Double.parseDouble(alpha)));
        }
        options = options.withOutlierChannels(Integer.getInteger("bench.outliers", options.outlierChannels()))
                .withKeepFloat(Integer.getInteger("bench.keepFloat", options.keepFloat()))
                .withCalibrationSamples(Integer.getInteger("bench.samples", options.calibrationSamples()))
                .withMergeSiblings(Boolean.parseBoolean(System.getProperty("bench.mergeSiblings", String.valueOf(options.mergeSiblings()))))
                .withSequenceMajor(Boolean.parseBoolean(System.getProperty("bench.sequenceMajor", String.valueOf(options.sequenceMajor()))));

        String exclude = System.getProperty("bench.exclude");
        if (exclude != null) {
            options = options.withSelector(new io.modelpress.core.onnx.NodeSelector(List.of(), List.of(), List.of(), List.of(),
                    List.of(), List.of(java.util.regex.Pattern.compile(exclude))));
        }
        Path fp32 = System.getProperty("bench.model") == null ? ReferenceModels.minilm() : Path.of(System.getProperty("bench.model"));
        Path reference = System.getProperty("bench.reference") == null ? ReferenceModels.minilmQuantized()
                : Path.of(System.getProperty("bench.reference"));
        List<String> calibration = Sentences.read("sentences-calib.jsonl", Integer.MAX_VALUE);
        List<String> eval = Sentences.read("sentences-eval.jsonl", Integer.MAX_VALUE);
        List<Sentences.Batch> calibrationBatches = Sentences.batches(calibration, 32);
        List<Sentences.Batch> evalBatches = Sentences.batches(eval, 32);

        OnnxModel model = OnnxModel.read(fp32);
        CalibrationData data = Boolean.getBoolean("bench.dataFree") ? CalibrationData.NONE
                : Sentences.calibration(calibrationBatches, List.of("input_ids", "attention_mask", "token_type_ids"));
        long start = System.nanoTime();
        QuantizationReport report = DynamicQuantizer.quantize(model, options, data);
        double quantizeSeconds = (System.nanoTime() - start) / 1e9;
        Path ours = Path.of(System.getProperty("bench.out", Files.createTempDirectory("dynamic-bench").resolve("minilm-int8.onnx").toString()));
        model.write(ours);
        System.out.println("report notes: " + report.notes());
        report.entries().stream().filter(e -> !e.quantized()).forEach(e -> System.out.println("  float: " + e.node() + " - " + e.reason()));

        Map<String, Path> models = new LinkedHashMap<>();
        models.put("fp32", fp32);
        models.put("-q (ORT)", reference);
        models.put("modelpress", ours);
        for (String extra : System.getProperty("bench.extra", "").split(",")) {
            if (!extra.isBlank()) {
                models.put(Path.of(extra).getFileName().toString().replace(".onnx", ""), Path.of(extra));
            }
        }

        List<float[]> base = Embeddings.embed(fp32, evalBatches);
        Map<String, Embeddings.Fidelity> fidelity = new LinkedHashMap<>();
        for (var e : models.entrySet()) {
            try {
                fidelity.put(e.getKey(), Embeddings.compare(base, Embeddings.embed(e.getValue(), evalBatches)));
            } catch (AssertionError error) {
                fidelity.put(e.getKey(), new Embeddings.Fidelity(Double.NaN, Double.NaN)); // e.g. a model with fixed input shapes
            }
        }

        Map<String, double[]> millis = new LinkedHashMap<>();
        Map<String, double[]> ratios = new LinkedHashMap<>();
        for (String k : models.keySet()) {
            millis.put(k, new double[] {Double.NaN, Double.NaN, Double.NaN, Double.NaN});
            ratios.put(k, new double[] {Double.NaN, Double.NaN, Double.NaN, Double.NaN});
        }
        if (latency) {
            int[][] shapes = Boolean.getBoolean("bench.onlyLarge") ? new int[][] {{32, 128}} : new int[][] {{32, 128}, {1, 32}};
            for (int threads = 1; threads <= Integer.getInteger("bench.maxThreads", 2); threads++) {
                // several sessions per model: where a session's buffers land moves its speed by up to 7 %
                int copies = Integer.getInteger("bench.sessions", 3);
                List<List<OrtSession>> sessions = new ArrayList<>();
                models.values().forEach(p -> sessions.add(new ArrayList<>()));
                for (int copy = 0; copy < copies; copy++) {
                    int m = 0;
                    for (Path p : models.values()) {
                        sessions.get(m++).add(Embeddings.session(p, threads));
                    }
                }
                for (int s = 0; s < shapes.length; s++) {
                    double[] timing = time(sessions, Sentences.fullBatch(eval, shapes[s][0], shapes[s][1]), runs);
                    int m = 0;
                    for (String k : models.keySet()) {
                        millis.get(k)[(threads - 1) * 2 + s] = timing[m];
                        ratios.get(k)[(threads - 1) * 2 + s] = timing[models.size() + m++];
                    }
                }
                for (List<OrtSession> copiesOfOne : sessions) {
                    for (OrtSession session : copiesOfOne) {
                        session.close();
                    }
                }
            }
        }

        System.out.printf(Locale.ROOT, "%n%s, %d eval sentences, ORT %s, median of %d runs (ms)%n", fp32.getFileName(), eval.size(),
                OrtEnvironment.getEnvironment().getVersion(), runs);
        System.out.println("time: median ms (median over rounds of time / -q's time in the same round)"
                + (Boolean.getBoolean("bench.cpu") ? "; CPU time of the calling thread" : "; wall time"));
        System.out.printf(Locale.ROOT, "%-12s %10s %17s %17s %17s %17s %8s %8s%n", "model", "bytes", "1 thread 32x128", "1 thread 1x32",
                "2 threads 32x128", "2 threads 1x32", "cos mean", "cos min");
        for (var e : models.entrySet()) {
            double[] t = millis.get(e.getKey());
            double[] q = ratios.get(e.getKey());
            Embeddings.Fidelity f = fidelity.get(e.getKey());
            System.out.printf(Locale.ROOT, "%-12s %10d %8.1f (%5.3f) %8.2f (%5.3f) %8.1f (%5.3f) %8.2f (%5.3f) %8.5f %8.5f%n", e.getKey(),
                    Files.size(e.getValue()), t[0], q[0], t[1], q[1], t[2], q[2], t[3], q[3], f.mean(), f.min());
        }
        System.out.printf(Locale.ROOT, "quantization took %.2f s (calibration: %s); model at %s%n",
                quantizeSeconds, report.notes().getOrDefault("calibration", "none"), ours);
    }

    /**
     * Median milliseconds per model, all sessions of all models taking turns in a shuffled order each round; a model's
     * time in a round is the mean over its sessions. With one ORT thread the work runs on the calling thread, so its
     * CPU time can be reported instead (bench.cpu=true): unlike wall time, it does not count the waits that other
     * processes on a shared machine cause.
     */
    private static double[] time(List<List<OrtSession>> sessions, Sentences.Batch batch, int runs) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        boolean cpu = Boolean.getBoolean("bench.cpu");
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        double[][] samples = new double[sessions.size()][runs];
        List<int[]> turns = new ArrayList<>();
        List<List<Map<String, OnnxTensor>>> feeds = new ArrayList<>();
        for (int m = 0; m < sessions.size(); m++) {
            List<Map<String, OnnxTensor>> perCopy = new ArrayList<>();
            for (int c = 0; c < sessions.get(m).size(); c++) {
                perCopy.add(batch.feeds(env, sessions.get(m).get(c).getInputNames()));
                turns.add(new int[] {m, c});
            }
            feeds.add(perCopy);
        }
        try {
            double warmupMillis = Double.MAX_VALUE;
            for (int warmup = 0; warmup < 3; warmup++) {
                for (int[] turn : turns) {
                    long t0 = System.nanoTime();
                    sessions.get(turn[0]).get(turn[1]).run(feeds.get(turn[0]).get(turn[1])).close();
                    warmupMillis = Math.min(warmupMillis, (System.nanoTime() - t0) / 1e6);
                }
            }
            // small inputs take milliseconds: each sample averages enough runs to last ~20 ms, so timer and scheduler
            // noise stay small against it
            int repeats = Math.max(1, (int) Math.ceil(20.0 / Math.max(0.01, warmupMillis)));
            java.util.Random random = new java.util.Random(42);
            for (int r = 0; r < runs; r++) {
                // a fresh order each round, so that no model always runs right after the one that flushed the caches
                java.util.Collections.shuffle(turns, random);
                for (int[] turn : turns) {
                    OrtSession session = sessions.get(turn[0]).get(turn[1]);
                    Map<String, OnnxTensor> feed = feeds.get(turn[0]).get(turn[1]);
                    long t0 = cpu ? threads.getCurrentThreadCpuTime() : System.nanoTime();
                    for (int i = 0; i < repeats; i++) {
                        session.run(feed).close();
                    }
                    long elapsed = (cpu ? threads.getCurrentThreadCpuTime() : System.nanoTime()) - t0;
                    samples[turn[0]][r] += elapsed / 1e6 / repeats / sessions.get(turn[0]).size();
                }
            }
        } finally {
            feeds.forEach(perCopy -> perCopy.forEach(f -> f.values().forEach(OnnxTensor::close)));
        }
        // per model: median time, then the median over rounds of its time / the reference's (-q) time in that round
        double[] result = new double[sessions.size() * 2];
        for (int s = 0; s < sessions.size(); s++) {
            double[] ratios = new double[runs];
            for (int r = 0; r < runs; r++) {
                ratios[r] = samples[s][r] / samples[REFERENCE][r];
            }
            Arrays.sort(ratios);
            double[] sorted = samples[s].clone();
            Arrays.sort(sorted);
            result[s] = Boolean.getBoolean("bench.min") ? sorted[0] : sorted[runs / 2];
            result[sessions.size() + s] = ratios[runs / 2];
        }
        return result;
    }
}
