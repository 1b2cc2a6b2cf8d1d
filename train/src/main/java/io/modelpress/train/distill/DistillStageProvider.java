package io.modelpress.train.distill;

import io.modelpress.core.recipe.Param;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageProvider;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The stage type {@code distill}: trains the incoming model (the student) to compute what the run's original model
 * (the teacher, in ONNX Runtime) computes, on the run's data, with the ONNX-on-DJL trainer. Found by ServiceLoader
 * through this module's {@code META-INF/services}, so it exists wherever {@code train} is on the class path.
 */
public final class DistillStageProvider implements StageProvider {
    private static final Map<String, Param> PARAMETERS = parameters(
            Param.choice("loss", "auto", "loss per distilled output: kd (KL divergence of temperature-softened class scores, "
                    + "mixed with hard-label cross-entropy when the data has labels), cosine (embeddings; token vectors weighted by "
                    + "the attention mask), pooled_cosine (the token vectors' mean over the attention mask: the sentence embedding "
                    + "of a mean-pooling model), embedding (cosine + pooled_cosine), mse; auto: cosine for outputs of rank 3 or "
                    + "more and for rank-2 outputs named like embeddings (embed, hidden, pool, sentence), kd for other rank-2 "
                    + "outputs, mse otherwise", "auto", "kd", "cosine", "pooled_cosine", "embedding", "mse"),
            Param.strings("outputs", "student outputs to distill (default: every floating-point output)"),
            Param.strings("hidden", "hidden states matched by mean squared error, each `value` (the same name in both models) or "
                    + "`student_value=teacher_value`; their shapes must agree"),
            Param.number("temperature", 1, 100, 2.0, "softening temperature T of kd (the KL term is scaled by T^2)"),
            Param.number("alpha", 0, 1, 0.5, "weight of the kd term against hard-label cross-entropy (1 - alpha) when the data "
                    + "has labels"),
            Param.number("learning_rate", 1e-8, 1, 1e-3, "AdamW peak learning rate"),
            Param.number("weight_decay", 0, 1, 0.01, "AdamW decoupled weight decay (on matrices and kernels, not biases and norms)"),
            Param.number("warmup", 0, 0.5, 0.05, "fraction of the steps with the learning rate rising linearly; then it follows "
                    + "half a cosine down to 1% of the peak"),
            Param.number("max_grad_norm", 0, 1e6, 1.0, "clip the global gradient norm to this; 0 turns clipping off"),
            Param.integer("batch", 1, 4096, 32L, "samples per optimizer step"),
            Param.integer("epochs", 1, 10_000, 3L, "passes over the training samples (when `steps` is 0)"),
            Param.integer("steps", 0, 100_000_000, 0L, "optimizer steps in all; 0: `epochs` passes over the data"),
            Param.integer("samples", 2, 10_000_000, 20_000L, "most samples of the data to read (held in memory)"),
            Param.number("validation", 0, 0.5, 0.1, "fraction of the samples held out to pick the best checkpoint (the weights "
                    + "with the lowest loss on them, the student as given included); 0: the last weights are kept"),
            Param.integer("validate_every", 0, 100_000_000, 0L, "optimizer steps between validations; 0: once per epoch"),
            Param.integer("patience", 0, 10_000, 0L, "stop after this many validations without a better loss; 0: never stop early"),
            Param.integer("seed", 0, Integer.MAX_VALUE, 42L, "seeds the split, the shuffling and the engine (dropout)"),
            Param.choice("device", "auto", "where the student trains: auto (a GPU when DJL finds one, else the CPU) or cpu",
                    "auto", "cpu"));

    @Override
    public String type() {
        return "distill";
    }

    @Override
    public Map<String, Param> parameters() {
        return PARAMETERS;
    }

    @Override
    public Stage stage() {
        return new DistillStage();
    }

    private static Map<String, Param> parameters(Param... params) {
        Map<String, Param> map = new LinkedHashMap<>();
        for (Param p : params) {
            map.put(p.name(), p);
        }
        return Collections.unmodifiableMap(map);
    }
}
