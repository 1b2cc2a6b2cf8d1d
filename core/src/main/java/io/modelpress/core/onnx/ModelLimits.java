package io.modelpress.core.onnx;

/**
 * Safety limits applied while reading untrusted models, so that a hostile file fails with a clear error instead of
 * exhausting memory.
 *
 * @param maxFileBytes     largest .onnx file accepted (protobuf itself cannot exceed 2 GiB)
 * @param maxNodes         most nodes, counting those inside subgraphs
 * @param maxTensorBytes   largest single tensor (inline or external)
 * @param maxTotalTensorBytes largest sum of all tensors' declared sizes
 */
public record ModelLimits(long maxFileBytes, long maxNodes, long maxTensorBytes, long maxTotalTensorBytes) {
    public static final ModelLimits DEFAULT = new ModelLimits(
            Integer.MAX_VALUE, 2_000_000, Integer.MAX_VALUE, 256L << 30);

    public ModelLimits {
        if (maxFileBytes <= 0 || maxNodes <= 0 || maxTensorBytes <= 0 || maxTotalTensorBytes <= 0) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    public ModelLimits withMaxFileBytes(long value) {
        return new ModelLimits(value, maxNodes, maxTensorBytes, maxTotalTensorBytes);
    }

    public ModelLimits withMaxNodes(long value) {
        return new ModelLimits(maxFileBytes, value, maxTensorBytes, maxTotalTensorBytes);
    }

    public ModelLimits withMaxTensorBytes(long value) {
        return new ModelLimits(maxFileBytes, maxNodes, value, maxTotalTensorBytes);
    }
}
