package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;

import java.util.List;

/**
 * Rewrites one node, valid at the opset before {@link UpgradeContext#opset()}, into nodes valid at that opset. The
 * result replaces the node in place, so it must produce the node's outputs under the same names.
 */
@FunctionalInterface
interface NodeConverter {
    /** A version change that needs no rewrite (new types, new attributes whose defaults keep the old meaning). */
    NodeConverter COMPATIBLE = (node, context) -> List.of(node);

    List<NodeProto> convert(NodeProto node, UpgradeContext context);
}
