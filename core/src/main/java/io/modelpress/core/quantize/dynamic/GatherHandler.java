package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.QuantType;
import io.modelpress.core.quantize.WeightQuantizer;

import java.util.List;

/**
 * Gather from a constant float table (embeddings): the table is stored as uint8 with one scale and zero point, and
 * only the gathered rows are dequantized (DequantizeLinear after the Gather, so the table is never expanded).
 */
final class GatherHandler implements OperatorHandler {
    /** Tables smaller than this stay float: 8-bit storage would save little and cost a DequantizeLinear per run. */
    static final long MIN_TABLE_BYTES = 16 * 1024;

    /** Gathers from computed values (shape arithmetic, mostly) are not lookups in a table: not worth a report line. */
    @Override
    public boolean concerns(NodeProto node, QuantizationContext context) {
        return node.getInputCount() > 0 && context.constant(node.getInput(0)).isPresent();
    }

    @Override
    public String unsupportedReason(NodeProto node, QuantizationContext context) {
        if (!context.options().embeddings()) {
            return "embeddings: false in the recipe";
        }
        if (node.getInputCount() != 2 || node.getOutputCount() != 1) {
            return "expected 2 inputs and 1 output";
        }
        if (Nodes.intAttribute(node, "axis", 0) != 0) {
            return "gathers along axis " + Nodes.intAttribute(node, "axis", 0) + "; only row lookups (axis 0) are quantized";
        }
        String problem = context.weightProblem(node.getInput(0), 0);
        if (problem != null) {
            return problem;
        }
        TensorProto table = context.constant(node.getInput(0)).get();
        long bytes = Tensors.expectedBytes(table);
        if (bytes < MIN_TABLE_BYTES) {
            return "table '" + table.getName() + "' is small (" + bytes + " bytes); 8 bits would save little and add a DequantizeLinear";
        }
        return null;
    }

    @Override
    public String activationInput(NodeProto node) {
        return null;
    }

    @Override
    public void quantize(int position, NodeProto node, QuantizationContext context) {
        GraphEditor editor = context.editor();
        String tableName = node.getInput(0);
        TensorProto table = context.constant(tableName).orElseThrow();
        // asymmetric: embedding tables are rarely centred, and one scale must cover the whole table
        WeightQuantizer.Quantized q = WeightQuantizer.perTensor(context.model().floats(table), QuantType.UINT8, false);
        String values = editor.freshName(tableName + "_quantized");
        String scale = editor.freshName(tableName + "_scale");
        String zeroPoint = editor.freshName(tableName + "_zero_point");
        editor.addInitializer(Tensors.ofBytes(values, DataType.UINT8, Tensors.dims(table), q.bytes()));
        editor.addInitializer(Tensors.scalarFloat(scale, q.scales()[0]));
        editor.addInitializer(Tensors.ofBytes(zeroPoint, DataType.UINT8, new long[0], new byte[] {(byte) q.zeroPoints()[0]}));
        editor.mayBeUnused(tableName);
        String name = Graphs.nodeLabel(node);
        String gathered = editor.freshName(node.getOutput(0) + "_quantized");
        editor.replace(position, List.of(
                node.toBuilder().setInput(0, values).setOutput(0, gathered).build(),
                Nodes.node("DequantizeLinear", editor.freshName(name + "_DequantizeLinear"), List.of(gathered, scale, zeroPoint),
                        List.of(node.getOutput(0)))));
        context.report().quantized(name, node.getOpType(), "uint8 per-tensor asymmetric table, dequantized after the lookup", q.scales());
    }
}
