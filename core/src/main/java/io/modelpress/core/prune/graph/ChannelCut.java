package io.modelpress.core.prune.graph;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Physically removes channels: cuts every recorded constant slice, runs the fixups (shape constants, split sizes,
 * group counts), then drops what nothing reads any more. A constant read elsewhere than by the planned cuts, or cut
 * differently by its readers, is copied per reader rather than changed under another reader.
 */
public final class ChannelCut {
    private ChannelCut() {
    }

    /** One tensor axis that shrank. */
    public record Record(String node, String opType, String tensor, int axis, long before, long after) {
    }

    private record Reader(int node, int input) {
    }

    private record AxisCut(int axis, boolean[] keep) {
        @Override
        public boolean equals(Object o) {
            return o instanceof AxisCut c && c.axis == axis && Arrays.equals(c.keep, keep);
        }

        @Override
        public int hashCode() {
            return Objects.hash(axis, Arrays.hashCode(keep));
        }
    }

    /** Removes the channels of {@code removedClasses} (class ids of {@code graph}) from the model it was built on. */
    public static List<Record> apply(OnnxModel model, ChannelGraph graph, Set<Integer> removedClasses) {
        Cut cut = new Cut(graph, removedClasses);
        for (int[] positions : graph.positionLists()) {
            if (positions.length > 0 && cut.kept(positions) == 0) {
                throw new IllegalStateException("the removal would leave a tensor with no channels");
            }
        }
        GraphIndex index = new GraphIndex(model.graph());
        Map<String, TensorProto> constants = ChannelAnalysis.constants(model, index);
        Map<Reader, List<AxisCut>> plans = new LinkedHashMap<>();
        Map<Reader, String> tensorOf = new LinkedHashMap<>();
        for (ChannelGraph.Slice slice : graph.slices()) {
            if (!cut.changes(slice.ids())) {
                continue;
            }
            boolean[] keep = new boolean[slice.ids().length];
            for (int j = 0; j < keep.length; j++) {
                keep[j] = !cut.removed(slice.ids()[j]);
            }
            Reader reader = new Reader(slice.nodeIndex(), slice.input());
            tensorOf.put(reader, slice.tensor());
            List<AxisCut> plan = plans.computeIfAbsent(reader, k -> new ArrayList<>());
            boolean merged = false;
            for (int i = 0; i < plan.size(); i++) {
                if (plan.get(i).axis() == slice.axis()) {
                    boolean[] both = plan.get(i).keep().clone();
                    for (int j = 0; j < both.length; j++) {
                        both[j] &= keep[j];
                    }
                    plan.set(i, new AxisCut(slice.axis(), both));
                    merged = true;
                }
            }
            if (!merged) {
                plan.add(new AxisCut(slice.axis(), keep));
            }
        }
        Map<String, List<Reader>> readersByTensor = new LinkedHashMap<>();
        tensorOf.forEach((reader, tensor) -> readersByTensor.computeIfAbsent(tensor, k -> new ArrayList<>()).add(reader));

        GraphEditor edits = new GraphEditor(model);
        List<Record> records = new ArrayList<>();
        for (Map.Entry<String, List<Reader>> e : readersByTensor.entrySet()) {
            String name = e.getKey();
            TensorProto original = constants.get(name);
            List<Reader> planned = e.getValue();
            boolean samePlan = planned.stream().map(plans::get).distinct().count() == 1;
            boolean onlyPlannedReaders = index.isGraphOutput(name) ? false : allReadersPlanned(index, name, planned);
            for (Reader reader : planned) {
                NodeProto node = index.node(reader.node());
                TensorProto t = original;
                for (AxisCut axisCut : plans.get(reader)) {
                    long before = t.getDims(axisCut.axis());
                    t = cutAxis(model, t, axisCut);
                    records.add(new Record(Graphs.nodeLabel(node), node.getOpType(), name, axisCut.axis(), before, t.getDims(axisCut.axis())));
                }
                if (samePlan && onlyPlannedReaders) {
                    edits.replaceConstant(name, t);
                    break;
                }
                edits.setInput(reader.node(), reader.input(), edits.addConstant(name, t));
            }
        }
        for (Fixup fixup : graph.fixups()) {
            fixup.apply(cut, edits);
        }
        edits.apply();
        Set<String> reshaped = new HashSet<>();
        graph.allLabels().forEach((value, labels) -> {
            if (cut.changes(labels.ids())) {
                reshaped.add(value);
            }
        });
        GraphEditor.forgetShapes(model, reshaped);
        GraphEditor.removeDeadNodes(model);
        GraphEditor.removeUnusedConstants(model);
        GraphEditor.declareInitializersAsInputs(model);
        return records;
    }

    /** True when every read of the constant (node inputs and subgraph reads) is one of the planned readers. */
    private static boolean allReadersPlanned(GraphIndex index, String name, List<Reader> planned) {
        Set<Reader> plannedSet = new HashSet<>(planned);
        for (int position : index.consumersOf(name)) {
            NodeProto node = index.node(position);
            if (GraphIndex.implicitInputs(node).contains(name)) {
                return false;
            }
            for (int i = 0; i < node.getInputCount(); i++) {
                if (node.getInput(i).equals(name) && !plannedSet.contains(new Reader(position, i))) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The tensor without the positions {@code cut.keep} drops along {@code cut.axis}. */
    private static TensorProto cutAxis(OnnxModel model, TensorProto tensor, AxisCut cut) {
        long[] dims = Tensors.dims(tensor);
        DataType type = DataType.of(tensor);
        int width = type.bits() / 8;
        ByteBuffer in = model.bytes(tensor).duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int axis = cut.axis();
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= dims[i];
        }
        long inner = width;
        for (int i = axis + 1; i < dims.length; i++) {
            inner *= dims[i];
        }
        int n = (int) dims[axis];
        int kept = 0;
        for (boolean k : cut.keep()) {
            kept += k ? 1 : 0;
        }
        long[] newDims = dims.clone();
        newDims[axis] = kept;
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(outer * kept * inner)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] chunk = new byte[Math.toIntExact(inner)];
        for (long o = 0; o < outer; o++) {
            for (int j = 0; j < n; j++) {
                if (cut.keep()[j]) {
                    in.position(Math.toIntExact((o * n + j) * inner));
                    in.get(chunk);
                    out.put(chunk);
                }
            }
        }
        return Tensors.raw(tensor.getName(), type, newDims, out.flip());
    }
}
