package io.modelpress.core.prune.sparse;

import io.modelpress.core.stats.ModelFootprint;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.prune.sparse.PrunableWeights.Layout;
import io.modelpress.core.prune.sparse.PrunableWeights.Weight;
import io.modelpress.core.prune.sparse.SparsityOptions.Allocation;
import io.modelpress.core.prune.sparse.SparsityOptions.Scope;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * Zeroes weights of MatMul, Gemm and Conv nodes (and Gather tables on request) in place: unstructured by magnitude,
 * n:m along the reduction axis, or by blocks. Only values change - the graph, its interface and every other tensor
 * stay as they were - and the model records which tensors are masked with which pattern ({@link SparsityRecord}).
 */
public final class SparsityPruner {
    private SparsityPruner() {
    }

    public static SparsityReport prune(OnnxModel model, SparsityOptions options) {
        SparsityReport report = new SparsityReport(options);
        ModelFootprint before = ModelFootprint.of(model);
        PrunableWeights.Found found = PrunableWeights.find(model, options.selector(), options.embeddings());
        found.skipped().forEach(s -> report.skipped(new SparsityReport.Skipped(s.node(), s.op(), s.tensor(), s.reason())));
        List<Weight> weights = new ArrayList<>();
        for (Weight w : found.weights()) {
            String problem = patternProblem(w, options);
            if (problem == null) {
                weights.add(w);
            } else {
                w.nodes().forEach(node -> report.skipped(new SparsityReport.Skipped(node, w.op(), w.tensor(), problem)));
            }
        }
        if (weights.isEmpty()) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "model", "has no weights this pass can prune"
                    + " (constant float weights of selected MatMul, Gemm or Conv nodes" + (options.embeddings() ? ", Gather tables" : "")
                    + (found.skipped().isEmpty() ? "" : "; " + found.skipped().size() + " skipped, first: " + found.skipped().get(0).reason()) + ")");
        }
        List<SparsityRecord.Entry> entries = switch (options.method()) {
            case MAGNITUDE -> magnitude(model, weights, options, report);
            case N_M -> nOfM(model, weights, options, report);
            case BLOCK -> blocks(model, weights, options, report);
        };
        SparsityRecord.add(model, entries);
        report.footprints(before, ModelFootprint.of(model));
        return report;
    }

    /** Why a found weight does not fit the chosen pattern, or null. */
    private static String patternProblem(Weight w, SparsityOptions options) {
        if (options.method() == SparsityOptions.Method.N_M) {
            if (!w.hasReductionAxis()) {
                return "a table has no reduction axis for n:m groups";
            }
            if (w.layout().length() % options.m() != 0) {
                return "reduction length " + w.layout().length() + " is not a multiple of m = " + options.m();
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------------ magnitude

    private static List<SparsityRecord.Entry> magnitude(OnnxModel model, List<Weight> weights, SparsityOptions options,
                                                        SparsityReport report) {
        long[] sizes = weights.stream().mapToLong(Weight::elements).toArray();
        long total = Arrays.stream(sizes).sum();
        long target = LayerBudgets.target(total, options.ratio());
        long[] counts;
        Allocation allocation = options.allocation();
        if (allocation == Allocation.UNIFORM && options.scope() == Scope.PER_LAYER) {
            counts = LayerBudgets.uniform(sizes, options.ratio());
            report.note("allocation", "each layer loses round(ratio x size) of its weights, those of least magnitude");
        } else if (allocation == Allocation.UNIFORM) {
            counts = LayerBudgets.smallestOverall(sortedKeys(model, weights, false), target);
            report.note("allocation", "global: the " + target + " weights of least magnitude over all pruned layers");
        } else if (allocation == Allocation.LAMP) {
            counts = LayerBudgets.smallestOverall(sortedKeys(model, weights, true), target);
            report.note("allocation", "lamp: the " + target + " weights of least LAMP score over all pruned layers "
                    + "(score = w^2 / sum of the layer's w'^2 with |w'| >= |w|), least magnitude within each layer");
        } else {
            double[] densities = LayerBudgets.erkDensities(weights.stream().map(Weight::dims).toList(), options.ratio());
            double[] quotas = new double[sizes.length];
            for (int l = 0; l < sizes.length; l++) {
                quotas[l] = sizes[l] * (1 - densities[l]);
            }
            counts = LayerBudgets.apportion(quotas, sizes, target);
            report.note("allocation", "erk: layer density proportional to sum(dims) / prod(dims), " + target
                    + " weights in all, least magnitude within each layer");
        }
        if (allocation != Allocation.UNIFORM) {
            report.note("scope", "does not apply: " + allocation.key() + " sets each layer's share itself");
        }
        List<SparsityRecord.Entry> entries = new ArrayList<>();
        for (int l = 0; l < weights.size(); l++) {
            Weight w = weights.get(l);
            TensorProto tensor = model.constant(w.tensor()).orElseThrow();
            double[] magnitudes = WeightValues.magnitudes(model, tensor);
            BitSet zero = smallest(magnitudes, counts[l]);
            apply(model, w, tensor, magnitudes, zero, "unstructured", report);
            entries.add(SparsityRecord.Entry.unstructured(w.tensor(), w.dims()));
        }
        return entries;
    }

    /** Each layer's keys sorted ascending: |w|, or LAMP scores. */
    private static List<double[]> sortedKeys(OnnxModel model, List<Weight> weights, boolean lamp) {
        List<double[]> keys = new ArrayList<>();
        for (Weight w : weights) {
            double[] sorted = WeightValues.magnitudes(model, model.constant(w.tensor()).orElseThrow());
            Arrays.sort(sorted);
            keys.add(lamp ? LayerBudgets.lampScores(sorted) : sorted);
        }
        return keys;
    }

    /** The {@code count} smallest keys; among equal keys the earliest positions go first. */
    static BitSet smallest(double[] keys, long count) {
        BitSet chosen = new BitSet(keys.length);
        if (count <= 0) {
            return chosen;
        }
        if (count >= keys.length) {
            chosen.set(0, keys.length);
            return chosen;
        }
        double[] sorted = keys.clone();
        Arrays.sort(sorted);
        double threshold = sorted[(int) count - 1];
        long ties = count - LayerBudgets.lowerBound(sorted, threshold);
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] < threshold) {
                chosen.set(i);
            } else if (keys[i] == threshold && ties > 0) {
                chosen.set(i);
                ties--;
            }
        }
        return chosen;
    }

    // ------------------------------------------------------------------------------------------------------ n:m

    private static List<SparsityRecord.Entry> nOfM(OnnxModel model, List<Weight> weights, SparsityOptions options,
                                                   SparsityReport report) {
        int n = options.n();
        int m = options.m();
        report.note("pattern", "in every group of " + m + " consecutive weights along the reduction axis, the " + n
                + " of largest magnitude are kept and the other " + (m - n) + " set to zero");
        List<SparsityRecord.Entry> entries = new ArrayList<>();
        for (Weight w : weights) {
            TensorProto tensor = model.constant(w.tensor()).orElseThrow();
            double[] magnitudes = WeightValues.magnitudes(model, tensor);
            Layout layout = w.layout();
            BitSet zero = new BitSet(magnitudes.length);
            int[] group = new int[m];
            for (long outer = 0; outer < layout.outer(); outer++) {
                for (long inner = 0; inner < layout.inner(); inner++) {
                    for (long start = 0; start < layout.length(); start += m) {
                        for (int j = 0; j < m; j++) {
                            group[j] = (int) (((outer * layout.length()) + start + j) * layout.inner() + inner);
                        }
                        zeroSmallestOfGroup(magnitudes, group, m - n, zero);
                    }
                }
            }
            apply(model, w, tensor, magnitudes, zero, n + ":" + m, report);
            entries.add(SparsityRecord.Entry.nOfM(w.tensor(), w.dims(), n, m, layout.axes()));
        }
        return entries;
    }

    /** Marks the {@code drop} smallest of the group (earlier positions first among equals); reorders {@code group}. */
    private static void zeroSmallestOfGroup(double[] magnitudes, int[] group, int drop, BitSet zero) {
        int[] order = group;
        // insertion sort by magnitude: groups are short, and the sort is stable, so ties keep stored order
        for (int i = 1; i < order.length; i++) {
            int position = order[i];
            int j = i - 1;
            while (j >= 0 && magnitudes[order[j]] > magnitudes[position]) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = position;
        }
        for (int i = 0; i < drop; i++) {
            zero.set(order[i]);
        }
    }

    // ---------------------------------------------------------------------------------------------------- blocks

    /** A weight viewed as a matrix tiled into blocks, with the mean square of each block. */
    private record Tiling(long rows, long cols, int blockRows, int blockCols, int blocksDown, int blocksAcross, double[] meanSquares) {
        int blocks() {
            return blocksDown * blocksAcross;
        }
    }

    private static Tiling tile(double[] magnitudes, long[] dims, int split, int blockRows, int blockCols) {
        long rows = 1;
        for (int a = 0; a < split; a++) {
            rows *= dims[a];
        }
        long cols = magnitudes.length / Math.max(rows, 1);
        int down = (int) ((rows + blockRows - 1) / blockRows);
        int across = (int) ((cols + blockCols - 1) / blockCols);
        double[] sums = new double[down * across];
        for (long r = 0; r < rows; r++) {
            int blockRow = (int) (r / blockRows);
            for (long c = 0; c < cols; c++) {
                double v = magnitudes[(int) (r * cols + c)];
                sums[blockRow * across + (int) (c / blockCols)] += v * v;
            }
        }
        for (int b = 0; b < sums.length; b++) {
            long height = Math.min(blockRows, rows - (long) (b / across) * blockRows);
            long width = Math.min(blockCols, cols - (long) (b % across) * blockCols);
            sums[b] /= height * width; // edge blocks are smaller: compare mean squares, not sums
        }
        return new Tiling(rows, cols, blockRows, blockCols, down, across, sums);
    }

    private static List<SparsityRecord.Entry> blocks(OnnxModel model, List<Weight> weights, SparsityOptions options,
                                                     SparsityReport report) {
        int blockRows = options.blockRows();
        int blockCols = options.blockCols();
        List<Tiling> tilings = new ArrayList<>();
        for (Weight w : weights) {
            double[] magnitudes = WeightValues.magnitudes(model, model.constant(w.tensor()).orElseThrow());
            tilings.add(tile(magnitudes, w.dims(), w.layout().matrixSplit(), blockRows, blockCols));
        }
        long[] blockCounts = tilings.stream().mapToLong(Tiling::blocks).toArray();
        long[] counts;
        if (options.scope() == Scope.PER_LAYER) {
            counts = LayerBudgets.uniform(blockCounts, options.ratio());
            report.note("allocation", "each layer loses round(ratio x blocks) of its " + blockRows + "x" + blockCols
                    + " blocks, those of least root-mean-square first");
        } else {
            List<double[]> sorted = new ArrayList<>();
            for (Tiling t : tilings) {
                double[] keys = t.meanSquares().clone();
                Arrays.sort(keys);
                sorted.add(keys);
            }
            long target = LayerBudgets.target(Arrays.stream(blockCounts).sum(), options.ratio());
            counts = LayerBudgets.smallestOverall(sorted, target);
            report.note("allocation", "global: the " + target + " blocks of least root-mean-square over all pruned layers");
        }
        List<SparsityRecord.Entry> entries = new ArrayList<>();
        for (int l = 0; l < weights.size(); l++) {
            Weight w = weights.get(l);
            Tiling t = tilings.get(l);
            TensorProto tensor = model.constant(w.tensor()).orElseThrow();
            double[] magnitudes = WeightValues.magnitudes(model, tensor);
            BitSet chosenBlocks = smallest(t.meanSquares(), counts[l]);
            BitSet zero = new BitSet(magnitudes.length);
            for (int b = chosenBlocks.nextSetBit(0); b >= 0; b = chosenBlocks.nextSetBit(b + 1)) {
                long rowStart = (long) (b / t.blocksAcross()) * blockRows;
                long colStart = (long) (b % t.blocksAcross()) * blockCols;
                for (long r = rowStart; r < Math.min(rowStart + blockRows, t.rows()); r++) {
                    long from = r * t.cols() + colStart;
                    long to = r * t.cols() + Math.min(colStart + blockCols, t.cols());
                    zero.set((int) from, (int) to);
                }
            }
            apply(model, w, tensor, magnitudes, zero, "block " + blockRows + "x" + blockCols, report);
            entries.add(SparsityRecord.Entry.block(w.tensor(), w.dims(), blockRows, blockCols, w.layout().matrixSplit()));
        }
        return entries;
    }

    // ------------------------------------------------------------------------------------------------------------

    private static void apply(OnnxModel model, Weight w, TensorProto tensor, double[] magnitudes, BitSet zero, String pattern,
                              SparsityReport report) {
        long zerosBefore = WeightValues.zeros(magnitudes);
        long zeros = zerosBefore;
        for (int i = zero.nextSetBit(0); i >= 0; i = zero.nextSetBit(i + 1)) {
            if (magnitudes[i] != 0) {
                zeros++;
            }
        }
        if (!Weights.replace(model, w.tensor(), WeightValues.withZeros(model, tensor, zero))) {
            throw new ModelPressException(ErrorCode.INTERNAL, "tensor '" + w.tensor() + "'", "could not be replaced");
        }
        report.pruned(new SparsityReport.Layer(w.tensor(), w.op(), w.nodes(), Arrays.stream(w.dims()).boxed().toList(),
                magnitudes.length, zerosBefore, zeros, pattern.toLowerCase(Locale.ROOT)));
    }
}
