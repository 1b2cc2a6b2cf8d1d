package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.HostArray;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.DoubleStream;

/**
 * Times models against each other the way ModelPress's benchmarks and evaluation reports do, so that neither machine
 * noise nor where ONNX Runtime happens to place a session's buffers passes for a difference between the models:
 *
 * <ul>
 * <li>every model runs in more than one session. Where a session's buffers land moves its speed by up to 7 % (two
 *     sessions of one model, same inputs, same rounds), so one session per model would compare placements as much as
 *     models. Sessions are opened in {@linkplain Plan#maxBlocks() blocks}: each block opens fresh sessions
 *     ({@linkplain Plan#sessionsPerBlock() some} per model, the models in a random order), times them, and closes them;</li>
 * <li>in each round of a block every session takes one turn, in a shuffled order, so noise hits all models alike. A
 *     model's time in a round is the mean over its sessions in the block;</li>
 * <li>a turn repeats the model's run until it lasts about {@value #SAMPLE_MS} ms (each model its own count, found on
 *     the first block): a millisecond-long run alone would mostly measure timer and scheduler noise, and one count for
 *     all would make a model 100 times slower than another take 100 times as long as it needs.</li>
 * </ul>
 *
 * <p>Each workload (for example batch 1 and batch 32) is timed in the same blocks with the same sessions. Within a
 * {@linkplain Plan#budget() time budget} the number of blocks and rounds adapts to the models' speed: the budget
 * covers opening sessions, warm-up and rounds, but at least {@link Plan#minBlocks()} blocks of
 * {@link Plan#minRounds()} rounds (and {@value #MIN_BLOCK_ROUNDS_MS} ms) per workload are always run.
 */
public final class InterleavedTiming {
    /** How long one turn (one session running a workload {@code repeats} times) should last. */
    public static final double SAMPLE_MS = 20;
    /**
     * Each block times a workload for at least this long (and at least {@link Plan#minRounds()} rounds, at most
     * {@link Plan#maxRounds()}): a block with one round of a cheap workload would let one stalled turn decide it.
     */
    public static final double MIN_BLOCK_ROUNDS_MS = 100;
    /** Timed runs per session on the first block, after warm-up, to find how many repeats make a model's turn. */
    private static final int CALIBRATION_RUNS = 3;

    private InterleavedTiming() {
    }

    /**
     * One model to time.
     *
     * @param name      how the results name it
     * @param workloads one feed map per workload, each holding an array for every model input (by input name; extra
     *                  entries are ignored); every contender must list the same workloads in the same order
     */
    public record Contender(String name, Path model, List<Map<String, HostArray>> workloads) {
        public Contender {
            workloads = List.copyOf(workloads);
        }
    }

    /**
     * How to time.
     *
     * @param session                 ONNX Runtime settings of every session
     * @param sessionsPerBlock        sessions of each model open at once in a block
     * @param minBlocks               blocks always run, whatever the budget
     * @param maxBlocks               blocks run when the budget allows
     * @param minRounds               rounds per block and workload always run
     * @param maxRounds               rounds per block and workload when the budget allows
     * @param budget                  time for all blocks, opening sessions and warm-up included
     * @param warmupRuns              untimed runs of every session before a workload's rounds (the first run of a
     *                                session allocates its buffers)
     * @param collectGarbageEachRound collect garbage before each round rather than once per block: a collection running
     *                                beside a turn slows it (with as many ONNX Runtime threads as cores), but each one
     *                                costs time that a budgeted measurement would rather spend on rounds
     */
    public record Plan(SessionSettings session, int sessionsPerBlock, int minBlocks, int maxBlocks, int minRounds, int maxRounds,
                       Duration budget, int warmupRuns, boolean collectGarbageEachRound) {
        public Plan {
            if (sessionsPerBlock < 1 || minBlocks < 1 || maxBlocks < minBlocks || minRounds < 1 || maxRounds < minRounds || warmupRuns < 1) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "timing plan", "needs at least one session, block, round and "
                        + "warm-up run, and maxima no smaller than minima: " + sessionsPerBlock + " sessions, " + minBlocks + ".."
                        + maxBlocks + " blocks, " + minRounds + ".." + maxRounds + " rounds, " + warmupRuns + " warm-up runs");
            }
            if (budget == null || budget.isNegative()) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "timing budget", "must be zero or positive");
            }
        }

        /** A fixed measurement, as the benchmarks take it: one block of {@code sessions} sessions per model, {@code rounds} rounds. */
        public static Plan fixed(SessionSettings session, int sessions, int rounds, int warmupRuns) {
            return new Plan(session, sessions, 1, 1, rounds, rounds, Duration.ZERO, warmupRuns, true);
        }

        /**
         * A measurement bounded by time, as evaluation reports take it: one session per model and block, between
         * {@code minBlocks} and {@code maxBlocks} blocks of at least one round, as the budget allows.
         */
        public static Plan budgeted(SessionSettings session, int minBlocks, int maxBlocks, Duration budget) {
            return new Plan(session, 1, minBlocks, maxBlocks, 1, Integer.MAX_VALUE, budget, 1, false);
        }
    }

    /** What one contender measured on one workload. */
    public static final class Samples {
        private final List<double[]> wallBlocks = new ArrayList<>();
        private final List<double[]> cpuBlocks = new ArrayList<>();
        private final DoubleStream.Builder runBuilder = DoubleStream.builder();
        private double[] runs;

        /** Per block, per round: milliseconds per run, the mean over the block's sessions of this model. */
        public List<double[]> blocks() {
            return Collections.unmodifiableList(wallBlocks);
        }

        /** Every timed run on its own, in milliseconds, sorted: the latency distribution. */
        public double[] runs() {
            if (runs == null) {
                runs = runBuilder.build().sorted().toArray();
            }
            return runs.clone();
        }

        /** The median over all rounds of milliseconds per run. */
        public double medianMs() {
            return median(concat(wallBlocks));
        }

        /**
         * The same for the calling thread's CPU time: with one ONNX Runtime thread the work runs on the calling thread,
         * so this is a second, scheduler-independent measure (with more threads it misses the pool's work).
         */
        public double medianCpuMs() {
            return median(concat(cpuBlocks));
        }

        /** The median over all rounds of (this time / the other's time in the same round). */
        public double medianRatioTo(Samples other) {
            return median(ratios(concat(wallBlocks), concat(other.wallBlocks)));
        }

        public double medianCpuRatioTo(Samples other) {
            return median(ratios(concat(cpuBlocks), concat(other.cpuBlocks)));
        }

        /** Per block: the median over its rounds of (this time / the other's time in the same round). */
        public double[] blockRatiosTo(Samples other) {
            double[] result = new double[wallBlocks.size()];
            for (int b = 0; b < result.length; b++) {
                result[b] = median(ratios(wallBlocks.get(b), other.wallBlocks.get(b)));
            }
            return result;
        }
    }

    /** Per contender (by name) and workload (by index), what was measured. */
    public record Result(Map<String, List<Samples>> samples) {
        public Samples of(String contender, int workload) {
            return samples.get(contender).get(workload);
        }
    }

    /** Times the contenders on their workloads as the plan says. */
    public static Result run(List<Contender> contenders, Plan plan) {
        int workloads = contenders.get(0).workloads().size();
        for (Contender c : contenders) {
            if (c.workloads().size() != workloads) {
                throw new IllegalArgumentException("contenders with different workload counts: " + contenders);
            }
        }
        Map<String, List<Samples>> samples = new LinkedHashMap<>();
        for (Contender c : contenders) {
            List<Samples> perWorkload = new ArrayList<>();
            for (int w = 0; w < workloads; w++) {
                perWorkload.add(new Samples());
            }
            if (samples.put(c.name(), perWorkload) != null) {
                throw new IllegalArgumentException("two contenders named " + c.name());
            }
        }
        // unseeded: LatencyComparison's guarantee rests on the order of opening and running being random each time
        Random random = new Random();
        // per contender and workload, found on the first block: its fastest run and the repeats that make a turn (0 before)
        Map<String, double[]> fastestMs = new LinkedHashMap<>();
        Map<String, int[]> repeats = new LinkedHashMap<>();
        contenders.forEach(c -> {
            fastestMs.put(c.name(), new double[workloads]);
            repeats.put(c.name(), new int[workloads]);
        });
        long start = System.nanoTime();
        long deadline = start + plan.budget().toNanos();
        long lastBlockNanos = 0;
        for (int block = 0; block < plan.maxBlocks(); block++) {
            long blockStart = System.nanoTime();
            if (block >= plan.minBlocks() && blockStart + lastBlockNanos > deadline) {
                break;
            }
            // the time left is shared by the blocks still to come, as if all of them will run
            long blockEnd = blockStart + Math.max(0, deadline - blockStart) / (plan.maxBlocks() - block);
            List<Turn> turns = open(contenders, plan, random);
            try {
                if (!plan.collectGarbageEachRound()) {
                    System.gc();
                }
                for (int w = 0; w < workloads; w++) {
                    warmUp(turns, w, plan.warmupRuns(), fastestMs, repeats);
                    double roundMs = roundMs(turns, w, fastestMs, repeats, samples);
                    long roundsFit = (long) ((blockEnd - System.nanoTime()) / 1e6 / (workloads - w) / roundMs);
                    long wanted = Math.max(plan.minRounds(), Math.max((long) Math.ceil(MIN_BLOCK_ROUNDS_MS / roundMs), roundsFit));
                    int rounds = (int) Math.min(plan.maxRounds(), wanted);
                    timeRounds(turns, w, rounds, repeats, plan, random, samples);
                }
            } finally {
                turns.forEach(t -> t.session().close());
            }
            lastBlockNanos = System.nanoTime() - blockStart;
        }
        return new Result(samples);
    }

    private record Turn(String name, ModelSession session, List<Map<String, HostArray>> feeds) {
    }

    /** Opens the block's sessions: in each pass one per contender, the contenders in a fresh random order. */
    private static List<Turn> open(List<Contender> contenders, Plan plan, Random random) {
        List<Turn> turns = new ArrayList<>();
        try {
            for (int copy = 0; copy < plan.sessionsPerBlock(); copy++) {
                List<Contender> order = new ArrayList<>(contenders);
                Collections.shuffle(order, random);
                for (Contender c : order) {
                    ModelSession session = ModelSession.open(c.model(), plan.session());
                    turns.add(new Turn(c.name(), session, c.workloads().stream().map(f -> ownFeeds(session, f)).toList()));
                }
            }
            return turns;
        } catch (RuntimeException e) {
            turns.forEach(t -> t.session().close());
            throw e;
        }
    }

    private static Map<String, HostArray> ownFeeds(ModelSession session, Map<String, HostArray> feeds) {
        Map<String, HostArray> own = new LinkedHashMap<>();
        session.inputs().forEach(i -> own.put(i.name(), feeds.get(i.name())));
        return own;
    }

    /**
     * Warms every session up on the workload. On the first block also sets how many repeats make each model's turn last
     * {@link #SAMPLE_MS}, from the fastest of a few timed runs of its sessions.
     */
    private static void warmUp(List<Turn> turns, int workload, int warmupRuns, Map<String, double[]> fastestMs, Map<String, int[]> repeats) {
        boolean calibrate = repeats.values().iterator().next()[workload] == 0;
        Map<String, Double> fastest = new LinkedHashMap<>();
        for (Turn turn : turns) {
            for (int r = 0; r < warmupRuns; r++) {
                turn.session().run(turn.feeds().get(workload));
            }
            // a run that alone lasts a turn needs no second look: its repeats are 1 either way
            for (int r = 0; calibrate && r < CALIBRATION_RUNS && fastest.getOrDefault(turn.name(), 0.0) < SAMPLE_MS; r++) {
                long t0 = System.nanoTime();
                turn.session().run(turn.feeds().get(workload));
                fastest.merge(turn.name(), (System.nanoTime() - t0) / 1e6, Math::min);
            }
        }
        fastest.forEach((name, ms) -> {
            fastestMs.get(name)[workload] = ms;
            repeats.get(name)[workload] = (int) Math.max(1, Math.min(1_000_000, Math.ceil(SAMPLE_MS / Math.max(ms, 1e-6))));
        });
    }

    /**
     * Milliseconds one round of the workload is expected to take: from the rounds timed so far (a median, which one
     * stalled run does not move), else from the fastest calibration run.
     */
    private static double roundMs(List<Turn> turns, int workload, Map<String, double[]> fastestMs, Map<String, int[]> repeats,
                                  Map<String, List<Samples>> samples) {
        double total = 0;
        for (Turn turn : turns) {
            Samples measured = samples.get(turn.name()).get(workload);
            double perRun = measured.wallBlocks.isEmpty() ? fastestMs.get(turn.name())[workload] : measured.medianMs();
            total += perRun * repeats.get(turn.name())[workload];
        }
        return Math.max(1e-3, total);
    }

    private static void timeRounds(List<Turn> turns, int workload, int rounds, Map<String, int[]> repeatCounts, Plan plan,
                                   Random random, Map<String, List<Samples>> samples) {
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        Map<String, double[]> wall = new LinkedHashMap<>();
        Map<String, double[]> cpuTime = new LinkedHashMap<>();
        Map<String, Integer> sessions = new LinkedHashMap<>();
        for (Turn turn : turns) {
            wall.putIfAbsent(turn.name(), new double[rounds]);
            cpuTime.putIfAbsent(turn.name(), new double[rounds]);
            sessions.merge(turn.name(), 1, Integer::sum);
        }
        List<Turn> order = new ArrayList<>(turns);
        for (int round = 0; round < rounds; round++) {
            if (plan.collectGarbageEachRound()) {
                System.gc();
            }
            Collections.shuffle(order, random);
            for (Turn turn : order) {
                Map<String, HostArray> feeds = turn.feeds().get(workload);
                DoubleStream.Builder runs = samples.get(turn.name()).get(workload).runBuilder;
                int repeats = repeatCounts.get(turn.name())[workload];
                long elapsed = 0;
                long c0 = cpu.getCurrentThreadCpuTime();
                for (int r = 0; r < repeats; r++) {
                    long t0 = System.nanoTime();
                    turn.session().run(feeds);
                    long took = System.nanoTime() - t0;
                    elapsed += took;
                    runs.add(took / 1e6);
                }
                long cpuElapsed = cpu.getCurrentThreadCpuTime() - c0;
                int copies = sessions.get(turn.name());
                wall.get(turn.name())[round] += elapsed / 1e6 / repeats / copies;
                cpuTime.get(turn.name())[round] += cpuElapsed / 1e6 / repeats / copies;
            }
        }
        wall.forEach((name, values) -> samples.get(name).get(workload).wallBlocks.add(values));
        cpuTime.forEach((name, values) -> samples.get(name).get(workload).cpuBlocks.add(values));
    }

    /** The median (the mean of the middle two for an even count); NaN when empty. */
    public static double median(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static double[] ratios(double[] a, double[] b) {
        double[] ratios = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            ratios[i] = a[i] / b[i];
        }
        return ratios;
    }

    private static double[] concat(List<double[]> blocks) {
        return blocks.stream().flatMapToDouble(Arrays::stream).toArray();
    }
}
