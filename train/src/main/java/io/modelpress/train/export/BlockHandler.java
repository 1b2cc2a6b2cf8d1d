package io.modelpress.train.export;

import ai.djl.nn.Block;

/**
 * Turns one kind of DJL block into ONNX nodes. Handlers are registered per block class with
 * {@link OnnxExporter#register}; a handler for a container block exports its children through
 * {@link ExportContext#export}.
 *
 * @param <B> the block class this handler understands
 */
@FunctionalInterface
public interface BlockHandler<B extends Block> {

    /**
     * Adds the nodes that compute {@code block} from {@code input} to the graph.
     *
     * @return the name of the graph value that holds the block's output (may be {@code input.name()} for blocks that
     *     do nothing at inference, such as dropout)
     */
    String export(B block, Value input, ExportContext context);
}
