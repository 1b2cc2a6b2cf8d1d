package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.HostArray;

/**
 * Running fidelity statistics of one model output against the matching reference output, accumulated batch by batch
 * (sums, minima and maxima only, so memory does not grow with the number of samples).
 *
 * <p>Each sample is compared as one vector: the flattened sample, except for outputs shaped [batch, tokens, hidden]
 * when the batch has an attention mask [batch, tokens]: then the sample vector is the mask-weighted mean over tokens
 * (the sentence embedding), and the token-level comparison (the sample's real tokens, flattened) is kept as
 * token cosine; MSE is then taken over the real tokens only, since padding positions carry no meaning.
 */
final class OutputComparison {
    private final String name;
    private final String referenceName;
    /** The axis of the output that carries the batch (1 for a recurrent state [2, batch, 128]). */
    private final int batchAxis;

    private long samples;
    private double cosineSum;
    private double cosineMin = Double.POSITIVE_INFINITY;
    private long tokenSamples;
    private double tokenCosineSum;
    private double tokenCosineMin = Double.POSITIVE_INFINITY;
    private double mseSum;
    private double mseMax = Double.NEGATIVE_INFINITY;
    private long klSamples;
    private double klSum;
    private double klMax = Double.NEGATIVE_INFINITY;

    OutputComparison(String name, String referenceName, int batchAxis) {
        this.name = name;
        this.referenceName = referenceName;
        this.batchAxis = batchAxis;
    }

    String name() {
        return name;
    }

    String referenceName() {
        return referenceName;
    }

    void add(HostArray model, HostArray reference, HostArray mask, int batch) {
        if (!java.util.Arrays.equals(model.shape(), reference.shape())) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "output '" + name + "'", "has shape " + HostArray.shapeString(model.shape())
                    + " but the reference output '" + referenceName + "' has " + HostArray.shapeString(reference.shape()) + " for the same batch");
        }
        if (batchAxis > 0 && batchAxis < model.rank() && model.dim(batchAxis) == batch) {
            model = model.axisFirst(batchAxis);
            reference = reference.axisFirst(batchAxis);
        }
        long[] shape = model.shape();
        int perSample = samplesPerBatch(shape, model.elementCount(), batch);
        float[] a = model.toFloats();
        float[] b = reference.toFloats();
        boolean pooled = shape.length == 3 && mask != null && mask.rank() == 2 && mask.dim(0) == batch && mask.dim(1) == shape[1];
        for (int s = 0; s < batch; s++) {
            int offset = s * perSample;
            if (pooled) {
                addPooled(a, b, offset, (int) shape[1], (int) shape[2], mask, s);
            } else {
                addCosine(Similarity.cosine(a, b, offset, perSample));
                addMse(squaredError(a, b, offset, perSample) / perSample);
            }
            if (shape.length == 2 && perSample > 1) {
                addKl(klDivergence(b, a, offset, perSample));
            }
            samples++;
        }
    }

    /** Elements per sample; an output without a batch dimension is one sample, which only a batch of 1 allows. */
    private int samplesPerBatch(long[] shape, int elements, int batch) {
        if (shape.length > 0 && shape[0] == batch) {
            return elements / batch;
        }
        if (batch == 1) {
            return elements;
        }
        throw new ModelPressException(ErrorCode.DATA_MISMATCH, "output '" + name + "'", "has shape " + HostArray.shapeString(shape)
                + ", whose first dimension is not the batch (" + batch + "); per-sample metrics need batch-first outputs (use batch size 1)");
    }

    private void addPooled(float[] a, float[] b, int offset, int tokens, int hidden, HostArray mask, int sample) {
        double[] pooledA = new double[hidden];
        double[] pooledB = new double[hidden];
        double weight = 0;
        double dot = 0;
        double normA = 0;
        double normB = 0;
        double squared = 0;
        int realTokens = 0;
        for (int t = 0; t < tokens; t++) {
            double w = mask.get(sample * tokens + t);
            if (w == 0) {
                continue;
            }
            weight += w;
            realTokens++;
            int base = offset + t * hidden;
            for (int h = 0; h < hidden; h++) {
                double x = a[base + h];
                double y = b[base + h];
                pooledA[h] += w * x;
                pooledB[h] += w * y;
                dot += x * y;
                normA += x * x;
                normB += y * y;
                squared += (x - y) * (x - y);
            }
        }
        if (realTokens == 0) {
            // a sample without real tokens: compare everything rather than nothing
            addCosine(Similarity.cosine(a, b, offset, tokens * hidden));
            addMse(squaredError(a, b, offset, tokens * hidden) / (tokens * hidden));
            return;
        }
        for (int h = 0; h < hidden; h++) {
            pooledA[h] /= weight;
            pooledB[h] /= weight;
        }
        addCosine(Similarity.cosine(pooledA, pooledB));
        double tokenCosine = Similarity.cosineOf(dot, normA, normB);
        tokenCosineSum += tokenCosine;
        tokenCosineMin = Math.min(tokenCosineMin, tokenCosine);
        tokenSamples++;
        addMse(squared / ((double) realTokens * hidden));
    }

    private void addCosine(double value) {
        cosineSum += value;
        cosineMin = Double.isNaN(value) ? Double.NaN : Math.min(cosineMin, value);
    }

    private void addMse(double value) {
        mseSum += value;
        mseMax = Math.max(mseMax, value);
    }

    private void addKl(double value) {
        klSum += value;
        klMax = Math.max(klMax, value);
        klSamples++;
    }

    private static double squaredError(float[] a, float[] b, int offset, int length) {
        double sum = 0;
        for (int i = offset; i < offset + length; i++) {
            double d = (double) a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /** KL(softmax(p) || softmax(q)) for logits p (reference) and q (model), computed with stable log-softmax. */
    static double klDivergence(float[] p, float[] q, int offset, int length) {
        double logZp = logSumExp(p, offset, length);
        double logZq = logSumExp(q, offset, length);
        double kl = 0;
        for (int i = offset; i < offset + length; i++) {
            double logP = p[i] - logZp;
            double logQ = q[i] - logZq;
            kl += Math.exp(logP) * (logP - logQ);
        }
        return Math.max(0, kl);
    }

    private static double logSumExp(float[] x, int offset, int length) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = offset; i < offset + length; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = 0;
        for (int i = offset; i < offset + length; i++) {
            sum += Math.exp(x[i] - max);
        }
        return max + Math.log(sum);
    }

    EvaluationReport.OutputMetrics result() {
        if (samples == 0) {
            return null;
        }
        EvaluationReport.Spread token = tokenSamples == 0 ? null : new EvaluationReport.Spread(tokenCosineSum / tokenSamples, tokenCosineMin);
        EvaluationReport.Spread kl = klSamples == 0 ? null : new EvaluationReport.Spread(klSum / klSamples, klMax);
        return new EvaluationReport.OutputMetrics(referenceName, new EvaluationReport.Spread(cosineSum / samples, cosineMin),
                token, new EvaluationReport.Spread(mseSum / samples, mseMax), kl);
    }
}
