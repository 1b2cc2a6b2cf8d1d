package io.modelpress.core.stage;

/**
 * One step of a recipe (quantize, convert, eval, ...). Implementations are stateless; failures are thrown as
 * {@link io.modelpress.core.ModelPressException} whose code says whether retrying can help.
 */
public interface Stage {
    StageOutcome run(StageContext context);
}
