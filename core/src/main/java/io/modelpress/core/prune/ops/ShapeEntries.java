package io.modelpress.core.prune.ops;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.prune.graph.NodeContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where each entry of a shape tensor (a Reshape's target shape) comes from: a constant, or a Concat of 1-D parts (how
 * exporters write shapes with run-time batch and sequence sizes: Unsqueeze(Gather(Shape(x))) parts beside constant
 * parts). Rewriting an entry makes a new constant - and a new Concat where the entry sits in a part - for this one
 * reader, so other readers of the old shape are untouched.
 */
final class ShapeEntries {
    /** One entry: its value when constant (else null) and where it is stored. */
    record Entry(Long value, String constant, int part, int offset) {
        boolean literal() {
            return value != null;
        }
    }

    private final String shapeValue;
    private final int concatPosition;
    private final List<Entry> entries;

    private ShapeEntries(String shapeValue, int concatPosition, List<Entry> entries) {
        this.shapeValue = shapeValue;
        this.concatPosition = concatPosition;
        this.entries = entries;
    }

    List<Entry> entries() {
        return entries;
    }

    /** The entries of {@code value}, or empty when its structure is not one of the two known forms. */
    static Optional<ShapeEntries> of(NodeContext c, String value) {
        long[] constant = c.longsOf(value);
        if (constant != null) {
            List<Entry> entries = new ArrayList<>();
            for (int i = 0; i < constant.length; i++) {
                entries.add(new Entry(constant[i], value, -1, i));
            }
            return Optional.of(new ShapeEntries(value, -1, entries));
        }
        Optional<NodeProto> producer = c.producerOf(value);
        if (producer.isEmpty() || !producer.get().getOpType().equals("Concat") || Nodes.intAttribute(producer.get(), "axis", 0) != 0) {
            return Optional.empty();
        }
        NodeProto concat = producer.get();
        List<Entry> entries = new ArrayList<>();
        for (int p = 0; p < concat.getInputCount(); p++) {
            String part = concat.getInput(p);
            long[] values = c.longsOf(part);
            long[] dims = c.dims(part);
            if (values != null) {
                for (int i = 0; i < values.length; i++) {
                    entries.add(new Entry(values[i], part, p, i));
                }
            } else if (dims != null && dims.length == 1) {
                for (int i = 0; i < dims[0]; i++) {
                    entries.add(new Entry(null, null, p, i));
                }
            } else {
                return Optional.empty();
            }
        }
        return Optional.of(new ShapeEntries(value, c.producerPosition(value).orElseThrow(), entries));
    }

    /** Makes the reader's input {@code input} a copy of this shape with entry {@code index} set to {@code value}. */
    void rewrite(GraphEditor edits, int readerPosition, int input, int index, long value) {
        Entry entry = entries.get(index);
        TensorProto stored = edits.model().constant(entry.constant()).orElseThrow();
        long[] values = edits.model().longs(stored);
        values[entry.offset()] = value;
        TensorProto replaced = DataType.of(stored) == DataType.INT32
                ? Tensors.ofInts(entry.constant(), Tensors.dims(stored), java.util.Arrays.stream(values).mapToInt(v -> (int) v).toArray())
                : Tensors.ofLongs(entry.constant(), Tensors.dims(stored), values);
        String constant = edits.addConstant(entry.constant(), replaced);
        if (concatPosition < 0) {
            edits.setInput(readerPosition, input, constant);
            return;
        }
        NodeProto concat = edits.node(concatPosition);
        String output = edits.freshName(shapeValue);
        NodeProto copy = concat.toBuilder().setName(edits.freshName(concat.getName().isEmpty() ? "Concat" : concat.getName()))
                .setInput(entry.part(), constant).setOutput(0, output).build();
        edits.insertBefore(readerPosition, copy);
        edits.setInput(readerPosition, input, output);
    }
}
