package io.modelpress.core.stage;

/**
 * One step of a recipe (quantize, convert, eval, ...), made by its type's {@link StageProvider}. Implementations are
 * stateless (one instance serves every run of a process); failures are thrown as
 * {@link io.modelpress.core.ModelPressException} whose code says whether retrying can help.
 */
public interface Stage {
    StageOutcome run(StageContext context);
}
