package io.modelpress.train.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.HostArray;
import io.modelpress.train.onnx.Losses;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The distillation loss of a batch: one term per distilled output, summed. {@code kd} outputs (class scores): KL
 * divergence of the temperature-softened distributions times T^2, mixed as {@code alpha * kd + (1 - alpha) * ce} with
 * hard-label cross-entropy on the first of them when the data has labels; {@code cosine} outputs (embeddings): mean
 * {@code 1 - cosine} of the vectors along the last axis (token vectors weighted by the attention mask); {@code
 * pooled_cosine}: {@code 1 - cosine} of the sentence embeddings, the token vectors averaged over the attention mask
 * (what a mean-pooling embedding model publishes); {@code embedding}: the sum of those two; {@code mse}: mean squared
 * error (also for hidden states). Student and teacher values must have the same shape.
 */
final class DistillLoss {
    enum Kind {
        KD, COSINE, POOLED_COSINE, EMBEDDING, MSE;

        String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The kind a recipe names, or null for a name that is not a loss kind (auto). */
        static Kind named(String key) {
            for (Kind kind : values()) {
                if (kind.key().equals(key)) {
                    return kind;
                }
            }
            return null;
        }
    }

    /** One distilled output and its loss. */
    record Term(String output, Kind kind) {
    }

    private final List<Term> terms;
    private final double temperature;
    private final double alpha;
    private final String labelledOutput;

    /**
     * @param labelledOutput the output the hard labels apply to, or null
     */
    DistillLoss(List<Term> terms, double temperature, double alpha, String labelledOutput) {
        this.terms = List.copyOf(terms);
        this.temperature = temperature;
        this.alpha = alpha;
        this.labelledOutput = labelledOutput;
    }

    List<Term> terms() {
        return terms;
    }

    String labelledOutput() {
        return labelledOutput;
    }

    /**
     * The batch loss as a differentiable scalar in {@code manager}.
     *
     * @param student the student's outputs (any float type)
     * @param labels  the samples' class labels, or null
     * @param mask    the attention mask [batch, tokens], or null
     */
    NDArray loss(NDManager manager, Map<String, NDArray> student, Map<String, Teacher.Target> teacher, long[] labels, HostArray mask) {
        NDArray total = null;
        for (Term term : terms) {
            NDArray s = student.get(term.output()).toType(DataType.FLOAT32, false);
            Teacher.Target target = teacher.get(term.output());
            NDArray t = manager.create(target.values(), new Shape(target.shape()));
            if (!s.getShape().equals(t.getShape())) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "distilled value '" + term.output() + "'", "has shape "
                        + s.getShape() + " in the student but " + t.getShape() + " in the teacher");
            }
            NDArray value = switch (term.kind()) {
                case KD -> {
                    NDArray kd = Losses.distillation(s, t, temperature);
                    if (labels != null && term.output().equals(labelledOutput) && alpha < 1) {
                        NDArray ce = Losses.crossEntropy(s, manager.create(labels));
                        yield kd.mul(alpha).add(ce.mul(1 - alpha));
                    }
                    yield kd;
                }
                case COSINE -> cosineLoss(manager, s, t, mask);
                case POOLED_COSINE -> pooledCosineLoss(manager, s, t, mask);
                case EMBEDDING -> cosineLoss(manager, s, t, mask).add(pooledCosineLoss(manager, s, t, mask));
                case MSE -> Losses.meanSquaredError(s, t);
            };
            total = total == null ? value : total.add(value);
        }
        return total;
    }

    /** Mean of {@code 1 - cosine} over the vectors on the last axis; token vectors weighted by the mask where it fits. */
    static NDArray cosineLoss(NDManager manager, NDArray student, NDArray teacher, HostArray mask) {
        NDArray dot = student.mul(teacher).sum(new int[] {-1});
        NDArray norms = student.norm(new int[] {-1}).mul(teacher.norm(new int[] {-1})).add(1e-8f);
        NDArray distance = dot.div(norms).neg().add(1f);
        Shape shape = distance.getShape();
        if (mask != null && shape.dimension() == 2 && shape.get(0) == mask.dim(0) && shape.get(1) == mask.dim(1)) {
            NDArray weights = manager.create(mask.toFloats(), shape);
            return distance.mul(weights).sum().div(weights.sum().maximum(1f));
        }
        return distance.mean();
    }

    /**
     * Mean of {@code 1 - cosine} of the sentence embeddings: token vectors [batch, tokens, width] averaged over the
     * attention mask [batch, tokens]. Values of another shape, or without a mask, fall back to {@link #cosineLoss}.
     */
    static NDArray pooledCosineLoss(NDManager manager, NDArray student, NDArray teacher, HostArray mask) {
        Shape shape = student.getShape();
        if (mask == null || shape.dimension() != 3 || shape.get(0) != mask.dim(0) || shape.get(1) != mask.dim(1)) {
            return cosineLoss(manager, student, teacher, null);
        }
        NDArray weights = manager.create(mask.toFloats(), new Shape(shape.get(0), shape.get(1), 1));
        // the mean's denominator is the same for both models and cancels in the cosine: sums suffice
        NDArray s = student.mul(weights).sum(new int[] {1});
        NDArray t = teacher.mul(weights).sum(new int[] {1});
        return cosineLoss(manager, s, t, null);
    }

    /** Index of the largest value of each row of a [rows, n] array of scores. */
    static long[] argmax(float[] scores, int rows) {
        int n = scores.length / Math.max(1, rows);
        long[] best = new long[rows];
        for (int r = 0; r < rows; r++) {
            int b = 0;
            for (int c = 1; c < n; c++) {
                if (scores[r * n + c] > scores[r * n + b]) {
                    b = c;
                }
            }
            best[r] = b;
        }
        return best;
    }
}
