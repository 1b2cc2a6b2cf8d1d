package io.modelpress.core.quantize.qdq;

import io.modelpress.core.data.DataOptions;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Side-by-side benchmark of static INT8 quantization on an image classifier with IDX data (Fashion-MNIST): accuracy,
 * size and latency of fp32 and int8 at 1 and 2 ONNX Runtime threads, calibration time and memory at growing
 * calibration-set sizes, and the accuracy each calibration method reaches. Not a test: it prints a table.
 *
 * <pre>
 * StaticBench model.onnx [data-dir] [extra recipe keys]
 *   data-dir defaults to /usr/share/datasets/fashion-mnist: train split for calibration, test split for accuracy
 * </pre>
 * Run it in a JVM of its own (heap figures are per process), e.g. with {@code -Xmx512m}.
 */
public final class StaticBench {
    private static final int[] CALIBRATION_SIZES = {256, 4096, 16384};
    private static final String[] METHODS = {"minmax", "percentile", "entropy", "mse"};

    private StaticBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: StaticBench model.onnx [data-dir] [extra recipe keys, e.g. \"activations: int8\"]");
            System.exit(2);
        }
        Path fp32 = Path.of(args[0]);
        Path data = Path.of(args.length > 1 ? args[1] : "/usr/share/datasets/fashion-mnist");
        String extra = args.length > 2 ? args[2] : "";
        Path work = Files.createTempDirectory("static-bench");
        Path int8 = work.resolve("int8.onnx");

        System.out.println("== calibration cost (default recipe" + (extra.isEmpty() ? "" : " + " + extra) + ")");
        System.out.println("samples  seconds  histogram KiB  peak live heap MiB  peak heap MiB  observed values");
        for (int samples : CALIBRATION_SIZES) {
            OnnxModel model = OnnxModel.read(fp32);
            StageSpec spec = spec("calibration_samples: " + samples + (extra.isEmpty() ? "" : ", " + extra));
            List<MemoryPoolMXBean> heap = heapPools();
            System.gc();
            heap.forEach(MemoryPoolMXBean::resetPeakUsage);
            LiveHeap live = LiveHeap.start();
            long start = System.nanoTime();
            QuantizationReport report = StaticQuantizer.quantize(model, spec, calibration(model, data));
            double seconds = (System.nanoTime() - start) / 1e9;
            long peakLive = live.stop();
            long peak = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
            String note = report.notes().get("calibration");
            System.out.printf(Locale.ROOT, "%7d  %7.2f  %13s  %18.1f  %13.1f  %s%n", samples, seconds, between(note, " s, ", " KiB"),
                    peakLive / 1048576.0, peak / 1048576.0, between(note, "samples, ", " values"));
            if (samples == CALIBRATION_SIZES[0]) {
                model.write(int8);
                System.out.println(report.toJson().toPrettyString());
            }
        }

        System.out.println();
        System.out.println("== fp32 vs int8 (" + CALIBRATION_SIZES[0] + " calibration samples), " + data);
        compare(fp32, int8, data, true);

        System.out.println();
        System.out.println("== comparable CNN: the same layers with 32/64 convolution channels (random weights: fidelity, not accuracy)");
        Path wideFp32 = work.resolve("wide-fp32.onnx");
        Path wideInt8 = work.resolve("wide-int8.onnx");
        OnnxModel wide = OnnxModel.of(TestCnns.fashionLike(32, 64, 128, false, 7));
        wide.write(wideFp32);
        StaticQuantizer.quantize(wide, spec(extra.isEmpty() ? "calibration_samples: 256" : extra), calibration(wide, data));
        wide.write(wideInt8);
        compare(wideFp32, wideInt8, data, false);

        System.out.println();
        System.out.println("== calibration methods (" + CALIBRATION_SIZES[0] + " samples): int8 top-1 accuracy");
        for (String method : METHODS) {
            OnnxModel model = OnnxModel.read(fp32);
            StaticQuantizer.quantize(model, spec("calibration: " + method + (extra.isEmpty() ? "" : ", " + extra)), calibration(model, data));
            Path out = work.resolve(method + ".onnx");
            model.write(out);
            EvaluationReport r = Evaluator.run(EvaluationRequest.of(out, data).withReference(fp32).withLatencyBudget(Duration.ZERO)
                    .withSession(SessionSettings.DEFAULT.withThreads(1)));
            System.out.printf(Locale.ROOT, "%-11s %.2f%%  (fp32 %.2f%%, agreement %.4f)%n", method, 100 * r.accuracy(),
                    100 * r.referenceAccuracy(), r.agreement());
        }
    }

    /** Accuracy, size and latency of fp32 against int8, at 1 and 2 threads, through the evaluator and in a tight loop. */
    private static void compare(Path fp32, Path int8, Path data, boolean labelled) throws Exception {
        List<EvaluationReport> runs = new ArrayList<>();
        for (int threads : new int[] {1, 2}) {
            runs.add(Evaluator.run(EvaluationRequest.of(int8, data).withReference(fp32).withBatchSize(32).withLatencyBudget(Duration.ofSeconds(20))
                    .withSession(SessionSettings.DEFAULT.withThreads(threads))));
        }
        EvaluationReport one = runs.get(0);
        System.out.printf(Locale.ROOT, "%-36s %12s %12s %10s%n", "", "fp32", "int8", "int8/fp32");
        if (labelled) {
            System.out.printf(Locale.ROOT, "%-36s %11.2f%% %11.2f%% %+9.2f pt%n", "top-1 accuracy (" + one.samples() + " test images)",
                    100 * one.referenceAccuracy(), 100 * one.accuracy(), 100 * (one.accuracy() - one.referenceAccuracy()));
        }
        System.out.printf(Locale.ROOT, "%-36s %12d %12d %9.1f%%%n", "file bytes", one.referenceSize().fileBytes(), one.size().fileBytes(),
                100.0 * one.size().fileBytes() / one.referenceSize().fileBytes());
        for (EvaluationReport r : runs) {
            row("evaluator, batch 1, " + r.threads() + "T, p50 ms", r.referenceTimings().batch1().p50Ms(), r.timings().batch1().p50Ms());
            row("evaluator, batch 32, " + r.threads() + "T, p50 ms", r.referenceTimings().batchN().p50Ms(), r.timings().batchN().p50Ms());
        }
        for (int threads : new int[] {1, 2}) {
            for (int batch : new int[] {1, 32}) {
                double[][] t = TightLoop.time(fp32, int8, data, batch, threads, batch == 1 ? 4000 : 1000);
                row("session.run, batch " + batch + ", " + threads + "T, p50 ms", t[0][1], t[1][1]);
                row("session.run, batch " + batch + ", " + threads + "T, min ms", t[0][0], t[1][0]);
            }
        }
        System.out.printf(Locale.ROOT, "agreement with fp32 %.4f, output cosine mean %.5f%n", one.agreement(),
                one.outputs().values().iterator().next().cosine().mean());
    }

    private static StageSpec spec(String keys) {
        return RecipeParser.parse("stages:\n  - quantize: { mode: static, " + keys + " }\n", "bench").stages().get(0);
    }

    private static DatasetCalibration calibration(OnnxModel model, Path data) {
        return new DatasetCalibration(data, model.inputs(), DataOptions.DEFAULT.withSplit("train"));
    }

    /**
     * The largest heap still in use right after a garbage collection while it runs: the live set, garbage excluded.
     * Collections are forced every 20 ms so that short-lived peaks are seen too.
     */
    private static final class LiveHeap implements javax.management.NotificationListener {
        private final java.util.concurrent.atomic.AtomicLong max = new java.util.concurrent.atomic.AtomicLong();
        private final Thread poker;

        private LiveHeap() {
            poker = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    System.gc();
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            poker.setDaemon(true);
        }

        static LiveHeap start() {
            LiveHeap live = new LiveHeap();
            for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                ((javax.management.NotificationEmitter) gc).addNotificationListener(live, null, null);
            }
            live.poker.start();
            return live;
        }

        @Override
        public void handleNotification(javax.management.Notification notification, Object handback) {
            if (notification.getType().equals(com.sun.management.GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                var info = com.sun.management.GarbageCollectionNotificationInfo.from((javax.management.openmbean.CompositeData) notification.getUserData());
                long used = 0;
                for (var e : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
                    if (heapPools().stream().anyMatch(p -> p.getName().equals(e.getKey()))) {
                        used += e.getValue().getUsed();
                    }
                }
                max.accumulateAndGet(used, Math::max);
            }
        }

        long stop() throws Exception {
            poker.interrupt();
            poker.join();
            for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                ((javax.management.NotificationEmitter) gc).removeNotificationListener(this);
            }
            return max.get();
        }
    }

    private static List<MemoryPoolMXBean> heapPools() {
        return ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getType() == MemoryType.HEAP).toList();
    }

    private static void row(String label, double fp32, double int8) {
        System.out.printf(Locale.ROOT, "%-36s %12.3f %12.3f %9.2fx faster%n", label, fp32, int8, fp32 / int8);
    }

    /**
     * Both models run alternately on one fixed batch of real images, so that load on a shared machine hits them alike;
     * only {@code session.run} is timed (no tensor copies).
     */
    private static final class TightLoop {
        /** @return per model {min, p50} milliseconds */
        static double[][] time(Path a, Path b, Path data, int batch, int threads, int runs) throws Exception {
            ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
            List<ai.onnxruntime.OrtSession> sessions = new ArrayList<>();
            List<ai.onnxruntime.OrtSession.SessionOptions> options = new ArrayList<>();
            try {
                for (Path model : List.of(a, b)) {
                    ai.onnxruntime.OrtSession.SessionOptions o = new ai.onnxruntime.OrtSession.SessionOptions();
                    o.setIntraOpNumThreads(threads);
                    o.setInterOpNumThreads(1);
                    options.add(o);
                    sessions.add(env.createSession(model.toString(), o));
                }
                var inputs = OnnxModel.read(a).inputs();
                io.modelpress.core.data.Batch images;
                try (var dataset = io.modelpress.core.data.Datasets.open(data, inputs, DataOptions.DEFAULT)) {
                    images = dataset.next(batch);
                }
                String name = inputs.get(0).name();
                long[][] nanos = new long[2][runs];
                try (ai.onnxruntime.OnnxTensor x = io.modelpress.core.eval.ModelSession.toTensor(env, images.inputs().get(name))) {
                    for (int i = 0; i < runs / 10 + 10; i++) {
                        for (var s : sessions) {
                            s.run(java.util.Map.of(name, x)).close();
                        }
                    }
                    for (int i = 0; i < runs; i++) {
                        for (int m = 0; m < 2; m++) {
                            long start = System.nanoTime();
                            sessions.get(m).run(java.util.Map.of(name, x)).close();
                            nanos[m][i] = System.nanoTime() - start;
                        }
                    }
                }
                double[][] result = new double[2][];
                for (int m = 0; m < 2; m++) {
                    java.util.Arrays.sort(nanos[m]);
                    result[m] = new double[] {nanos[m][0] / 1e6, nanos[m][runs / 2] / 1e6};
                }
                return result;
            } finally {
                for (var s : sessions) {
                    s.close();
                }
                options.forEach(ai.onnxruntime.OrtSession.SessionOptions::close);
            }
        }
    }

    private static String between(String text, String before, String after) {
        int from = text.indexOf(before);
        int to = text.indexOf(after, from + before.length());
        return from < 0 || to < 0 ? "?" : text.substring(from + before.length(), to);
    }
}
