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
 * Adam with decoupled weight decay (Loshchilov and Hutter): per parameter,
 * {@code m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr wd w},
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
     * @return the global gradient norm before clipping
     */
    double step(List<GraphParameter> parameters, double learningRate) {
        steps++;
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
                double squares = 0;
                for (GraphParameter p : parameters) {
                    NDArray g = p.array().getGradient();
                    g.attach(scope);
                    if (p.mask() != null) {
                        g = g.mul(p.mask());
                    }
                    squares += g.square().sum().getFloat();
                    gradients.add(g);
                }
                double norm = Math.sqrt(squares);
                double clip = settings.maxGradNorm() > 0 && norm > settings.maxGradNorm() ? settings.maxGradNorm() / norm : 1;
                double correction1 = 1 - Math.pow(settings.beta1(), steps);
                double correction2 = 1 - Math.pow(settings.beta2(), steps);
                for (int i = 0; i < parameters.size(); i++) {
                    GraphParameter p = parameters.get(i);
                    NDArray g = clip == 1 ? gradients.get(i) : gradients.get(i).mul(clip);
                    NDArray[] mv = moments.get(p);
                    mv[0].muli(settings.beta1()).addi(g.mul(1 - settings.beta1()));
                    mv[1].muli(settings.beta2()).addi(g.square().muli(1 - settings.beta2()));
                    NDArray denominator = mv[1].div(correction2).sqrt().addi(settings.epsilon());
                    NDArray update = mv[0].div(correction1).divi(denominator).muli(learningRate);
                    NDArray w = p.array();
                    if (p.decays() && settings.weightDecay() > 0) {
                        w.muli(1 - learningRate * settings.weightDecay());
                    }
                    w.subi(update);
                    if (p.mask() != null) {
                        w.muli(p.mask());
                    }
                    JniUtils.zeroGrad((PtNDArray) w);
                }
                return norm;
            }
        });
    }

    /** Steps taken so far. */
    long steps() {
        return steps;
    }
}
