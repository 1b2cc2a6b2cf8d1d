package io.modelpress.core.graph;

import io.modelpress.core.onnx.OnnxModel;

/**
 * One rewrite of a model, in place: a graph transform (BatchNorm folding, the sequence-major layout, SmoothQuant's
 * channel scaling...) or one step of a compression mode. A mode is a declared list of passes run in order by
 * {@link Passes#run}; each pass says what it changed in its {@link PassResult}, which the mode's report takes in.
 *
 * <p>A pass that must not change the model's outputs says so by being wrapped in a check of that (see
 * {@code transform.ExactRewrite}); a pass that finds nothing to do returns a result with no changes and, where that is
 * worth knowing, a note saying why.
 *
 * @param <O> the pass's settings, typed (a record; passes that have none implement {@link WithoutOptions})
 */
public interface Pass<O> {
    /** A short snake_case key, e.g. {@code attention_masks}: the pass's name in reports and logs. */
    String name();

    /** The settings this pass runs with. */
    O options();

    /** Rewrites {@code model} in place and says what it did. */
    PassResult apply(OnnxModel model);

    /** The settings of a pass that has none. */
    enum NoOptions {
        NONE
    }

    /** A pass without settings. */
    interface WithoutOptions extends Pass<NoOptions> {
        @Override
        default NoOptions options() {
            return NoOptions.NONE;
        }
    }
}
