package io.modelpress.core.prune.layers;

import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How much each block changes what flows through it, on sample data: 1 - the mean cosine between a sample's block
 * input and block output. A block that barely changes its input ("block influence" near 0) is the cheapest to drop.
 */
public final class BlockInfluence {
    private BlockInfluence() {
    }

    /** One influence per block, in the order given. */
    public static double[] of(OnnxModel model, List<BlockFinder.Block> blocks, CalibrationData data, int samples) {
        Set<String> values = new LinkedHashSet<>();
        for (BlockFinder.Block b : blocks) {
            values.add(b.input());
            values.add(b.output());
        }
        double[] sums = new double[blocks.size()];
        long[] counts = new long[blocks.size()];
        Map<String, float[]> batch = new HashMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        ActivationObserver.observe(model, values, data, samples, 1, (value, buffer, shape) -> {
            float[] copy = new float[buffer.remaining()];
            buffer.duplicate().get(copy);
            batch.put(value, copy);
            shapes.put(value, shape);
            if (batch.size() < values.size()) {
                return;
            }
            for (int i = 0; i < blocks.size(); i++) {
                float[] in = batch.get(blocks.get(i).input());
                float[] out = batch.get(blocks.get(i).output());
                long rows = shapes.get(blocks.get(i).input()).length == 0 ? 1 : shapes.get(blocks.get(i).input())[0];
                int width = (int) (in.length / Math.max(1, rows));
                for (int r = 0; r < rows; r++) {
                    sums[i] += cosine(in, out, r * width, width);
                    counts[i]++;
                }
            }
            batch.clear();
        });
        double[] influence = new double[blocks.size()];
        for (int i = 0; i < influence.length; i++) {
            influence[i] = counts[i] == 0 ? 1 : 1 - sums[i] / counts[i];
        }
        return influence;
    }

    private static double cosine(float[] a, float[] b, int from, int length) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = from; i < from + length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / Math.sqrt(na * nb);
    }
}
