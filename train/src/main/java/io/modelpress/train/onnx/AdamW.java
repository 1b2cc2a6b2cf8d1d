package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter), PyTorch's fused update per parameter:
 * {@code w -= lr wd w; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)},
 * the decay only on parameters that {@link GraphParameter#decays()}. Gradients of masked (pruned) parameters are
 * masked first and the weights masked after, so pruned elements stay exactly zero. Optionally the gradients are first
 * scaled down to a global L2 norm of at most {@code maxGradNorm}.
 */
public final class AdamW {
    /**
     * @param maxGradNorm clip the global gradient norm to this; 0 turns clipping off
     */
    public record Settings(double beta1, double beta2, double epsilon, double weightDecay, double maxGradNorm) {
        public Settings {
            if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || !(epsilon > 0) || weightDecay < 0 || maxGradNorm < 0) {
                throw new IllegalArgumentException("AdamW needs 0 <= beta1, beta2 < 1, epsilon > 0, weight decay >= 0 and"
                        + " max gradient norm >= 0");
            }
        }

        /** beta1 0.9, beta2 0.999, epsilon 1e-8, weight decay 0.01, no clipping. */
        public static Settings defaults() {
            return new Settings(0.9, 0.999, 1e-8, 0.01, 0);
        }

        public Settings withWeightDecay(double decay) {
            return new Settings(beta1, beta2, epsilon, decay, maxGradNorm);
        }

        public Settings withMaxGradNorm(double norm) {
            return new Settings(beta1, beta2, epsilon, weightDecay, norm);
        }
    }

    private final Settings settings;
    private final NDManager manager;
    private final Map<GraphParameter, NDArray[]> moments = new IdentityHashMap<>();
    private long steps;

    AdamW(Settings settings, NDManager manager) {
        this.settings = settings;
        this.manager = manager;
    }

    /**
     * Updates every parameter from its accumulated gradient, then zeroes the gradients.
     *
     * A step whose gradients are not finite changes nothing (no weight, no moment, no step count): one bad backward
     * pass would otherwise turn every weight into NaN, since a NaN norm never triggers clipping.
     *
     * @return the global gradient norm before clipping; not finite when the step was skipped for that reason
     */
    double step(List<GraphParameter> parameters, double learningRate) {
        return GradMode.disabled(() -> {
            try (NDManager scope = manager.newSubManager()) {
                List<NDArray> borrowed = new ArrayList<>();
                for (GraphParameter p : parameters) {
                    NDArray[] mv = moments.computeIfAbsent(p, k -> new NDArray[] {
                            manager.zeros(p.shape()), manager.zeros(p.shape())});
                    borrowed.add(p.array());
                    borrowed.add(mv[0]);
                    borrowed.add(mv[1]);
                    borrowed.add(p.mask());
                }
                Scopes.borrow(scope, borrowed);
                List<NDArray> gradients = new ArrayList<>();
                for (GraphParameter p : parameters) {
                    NDArray g = p.array().getGradient();
                    g.attach(scope);
                    gradients.add(p.mask() != null ? g.mul(p.mask()) : g);
                }
                double squares = 0;
                for (NDArray g : gradients) {
                    squares += g.square().sum().getFloat();
                }
                double norm = Math.sqrt(squares);
                if (!Double.isFinite(norm)) {
                    discardGradients(parameters);
                    return norm;
                }
                steps++;
                double rescale = settings.maxGradNorm() > 0 && norm > settings.maxGradNorm() ? settings.maxGradNorm() / norm : 1;
                float biasCorrected = (float) (learningRate * Math.sqrt(1 - Math.pow(settings.beta2(), steps))
                        / (1 - Math.pow(settings.beta1(), steps)));
                for (int i = 0; i < parameters.size(); i++) {
                    GraphParameter p = parameters.get(i);
                    NDArray[] mv = moments.get(p);
                    float decay = p.decays() ? (float) settings.weightDecay() : 0f;
                    JniUtils.adamUpdate((PtNDArray) p.array(), (PtNDArray) gradients.get(i), (PtNDArray) mv[0], (PtNDArray) mv[1],
                            (float) learningRate, biasCorrected, decay, (float) rescale, -1f, (float) settings.beta1(),
                            (float) settings.beta2(), (float) settings.epsilon(), true);
                    if (p.mask() != null) {
                        p.array().muli(p.mask());
                    }
                    JniUtils.zeroGrad((PtNDArray) p.array());
                }
                return norm;
            }
        });
    }

    /** Zeroes the accumulated gradients without updating anything. */
    static void discardGradients(List<GraphParameter> parameters) {
        for (GraphParameter p : parameters) {
            if (p.array().hasGradient()) {
                JniUtils.zeroGrad((PtNDArray) p.array());
            }
        }
    }

    /** Steps taken so far. */
    long steps() {
        return steps;
    }
}
