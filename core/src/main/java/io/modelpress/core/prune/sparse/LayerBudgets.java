package io.modelpress.core.prune.sparse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How many elements (weights or blocks) each layer loses. Every rule hits its total exactly:
 * <ul>
 *   <li>uniform per layer: each layer loses round(ratio x size) (half up);</li>
 *   <li>the k smallest keys overall ({@link #smallestOverall}): global magnitude, and LAMP (Lee et al. 2021), whose
 *       scores rise with |w| inside a layer and compare across layers;</li>
 *   <li>ERK (Evci et al. 2020): density proportional to sum(dims) / prod(dims), layers that would exceed density 1 kept
 *       dense, the rest scaled so that exactly round(ratio x total) elements go.</li>
 * </ul>
 */
final class LayerBudgets {
    private LayerBudgets() {
    }

    static long target(long total, double ratio) {
        return Math.round(ratio * total);
    }

    static long[] uniform(long[] sizes, double ratio) {
        long[] counts = new long[sizes.length];
        for (int l = 0; l < sizes.length; l++) {
            counts[l] = target(sizes[l], ratio);
        }
        return counts;
    }

    /**
     * Per-layer counts of the {@code k} smallest keys over all layers; each layer's keys sorted ascending. Keys equal
     * to the k-th smallest are taken in layer order, so the counts always sum to k exactly.
     */
    static long[] smallestOverall(List<double[]> sortedKeys, long k) {
        long[] counts = new long[sortedKeys.size()];
        if (k <= 0) {
            return counts;
        }
        // the smallest threshold t with count(key <= t) >= k, by bisection over the (order-preserving) bits of t >= 0
        long lo = 0;
        long hi = Double.doubleToLongBits(Double.POSITIVE_INFINITY);
        while (lo < hi) {
            long mid = lo + (hi - lo) / 2;
            if (countAtMost(sortedKeys, Double.longBitsToDouble(mid)) >= k) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        double t = Double.longBitsToDouble(lo);
        long remaining = k;
        for (int l = 0; l < counts.length; l++) {
            counts[l] = lowerBound(sortedKeys.get(l), t);
            remaining -= counts[l];
        }
        for (int l = 0; l < counts.length && remaining > 0; l++) {
            long ties = upperBound(sortedKeys.get(l), t) - counts[l];
            long take = Math.min(ties, remaining);
            counts[l] += take;
            remaining -= take;
        }
        return counts;
    }

    /**
     * LAMP scores of one layer's magnitudes sorted ascending: score(u) = w(u)^2 / sum over v >= u of w(v)^2. They rise
     * with u, and the largest weight of every layer scores 1, so no layer is ever emptied.
     */
    static double[] lampScores(double[] sortedMagnitudes) {
        int n = sortedMagnitudes.length;
        double[] scores = new double[n];
        double suffix = 0;
        for (int u = n - 1; u >= 0; u--) {
            double square = sortedMagnitudes[u] * sortedMagnitudes[u];
            suffix += square;
            scores[u] = suffix == 0 ? 0 : square / suffix;
        }
        return scores;
    }

    /**
     * ERK densities for a total density of 1 - ratio: density(l) = eps x sum(dims) / prod(dims), eps chosen so that
     * the kept elements add up; a layer whose density would exceed 1 is kept dense and eps is solved again.
     */
    static double[] erkDensities(List<long[]> shapes, double ratio) {
        int layers = shapes.size();
        double[] raw = new double[layers];
        long[] sizes = new long[layers];
        long total = 0;
        for (int l = 0; l < layers; l++) {
            long[] dims = shapes.get(l);
            sizes[l] = Arrays.stream(dims).reduce(1, Math::multiplyExact);
            raw[l] = sizes[l] == 0 ? 0 : (double) Arrays.stream(dims).sum() / sizes[l];
            total += sizes[l];
        }
        boolean[] dense = new boolean[layers];
        double kept = (1 - ratio) * total;
        while (true) {
            double denseKept = 0;
            double scaled = 0;
            for (int l = 0; l < layers; l++) {
                if (dense[l]) {
                    denseKept += sizes[l];
                } else {
                    scaled += raw[l] * sizes[l];
                }
            }
            double eps = scaled == 0 ? 0 : Math.max(0, kept - denseKept) / scaled;
            int worst = -1;
            for (int l = 0; l < layers; l++) {
                if (!dense[l] && eps * raw[l] > 1 && (worst < 0 || raw[l] > raw[worst])) {
                    worst = l;
                }
            }
            if (worst < 0) {
                double[] densities = new double[layers];
                for (int l = 0; l < layers; l++) {
                    densities[l] = dense[l] ? 1 : eps * raw[l];
                }
                return densities;
            }
            dense[worst] = true;
        }
    }

    /** Per-layer counts from real-valued quotas, summing to {@code k} exactly (largest remainders first). */
    static long[] apportion(double[] quotas, long[] sizes, long k) {
        int layers = quotas.length;
        long[] counts = new long[layers];
        long assigned = 0;
        for (int l = 0; l < layers; l++) {
            counts[l] = Math.min(sizes[l], (long) Math.floor(Math.max(0, quotas[l])));
            assigned += counts[l];
        }
        List<Integer> order = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            order.add(l);
        }
        order.sort((a, b) -> Double.compare(quotas[b] - Math.floor(quotas[b]), quotas[a] - Math.floor(quotas[a])));
        // one extra per layer by largest remainder; a second round only if capped layers left some undistributed
        while (assigned < k) {
            boolean progress = false;
            for (int l : order) {
                if (assigned < k && counts[l] < sizes[l]) {
                    counts[l]++;
                    assigned++;
                    progress = true;
                }
            }
            if (!progress) {
                break;
            }
        }
        return counts;
    }

    private static long countAtMost(List<double[]> sortedKeys, double t) {
        long count = 0;
        for (double[] keys : sortedKeys) {
            count += upperBound(keys, t);
        }
        return count;
    }

    /** Number of keys strictly below t. */
    static int lowerBound(double[] sorted, double t) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Number of keys at most t. */
    static int upperBound(double[] sorted, double t) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
