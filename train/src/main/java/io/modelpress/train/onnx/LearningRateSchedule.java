package io.modelpress.train.onnx;

/** The learning rate of each optimizer step. */
@FunctionalInterface
public interface LearningRateSchedule {
    /**
     * @param step the number of optimizer steps taken before this one (0 for the first)
     */
    double rate(long step);

    static LearningRateSchedule constant(double rate) {
        if (!(rate > 0)) {
            throw new IllegalArgumentException("learning rate must be positive, got " + rate);
        }
        return step -> rate;
    }

    /**
     * Linear warm-up from {@code peak / warmupSteps} to {@code peak} over the first {@code warmupSteps} steps, then
     * half a cosine down to {@code minimum} at {@code totalSteps} (and {@code minimum} after).
     */
    static LearningRateSchedule warmupCosine(double peak, long warmupSteps, long totalSteps, double minimum) {
        if (!(peak > 0) || minimum < 0 || minimum > peak || warmupSteps < 0 || totalSteps < warmupSteps) {
            throw new IllegalArgumentException("warm-up + cosine needs peak > 0, 0 <= minimum <= peak and 0 <= warm-up steps"
                    + " <= total steps; got peak " + peak + ", minimum " + minimum + ", warm-up " + warmupSteps + ", total " + totalSteps);
        }
        return step -> {
            if (step < warmupSteps) {
                return peak * (step + 1) / warmupSteps;
            }
            double progress = Math.min(1.0, (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
            return minimum + (peak - minimum) * 0.5 * (1 + Math.cos(Math.PI * progress));
        };
    }
}
