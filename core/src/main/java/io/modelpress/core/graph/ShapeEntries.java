package io.modelpress.core.graph;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Where each entry of a shape tensor (a Reshape's target shape) comes from: a constant, or a Concat of 1-D parts (how
 * exporters write shapes with run-time batch and sequence sizes: Unsqueeze(Gather(Shape(x))) parts beside constant
 * parts). Rewriting an entry makes a new constant - and a new Concat where the entry sits in a part - for this one
 * reader, so other readers of the old shape are untouched.
 */
public final class ShapeEntries {
    /** One entry: its value when constant (else null) and where it is stored. */
    public record Entry(Long value, String constant, int part, int offset) {
        public boolean literal() {
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

    public List<Entry> entries() {
        return entries;
    }

    /**
     * The entries of {@code value}, or empty when its structure is not one of the two known forms.
     *
     * @param constantLongs a value's integers when it is a constant integer tensor, else null
     * @param dims          a value's concrete dims, or null when unknown
     */
    public static Optional<ShapeEntries> of(GraphIndex index, Function<String, long[]> constantLongs,
                                            Function<String, long[]> dims, String value) {
        long[] constant = constantLongs.apply(value);
        if (constant != null) {
            List<Entry> entries = new ArrayList<>();
            for (int i = 0; i < constant.length; i++) {
                entries.add(new Entry(constant[i], value, -1, i));
            }
            return Optional.of(new ShapeEntries(value, -1, entries));
        }
        Optional<NodeProto> producer = index.producerNode(value);
        if (producer.isEmpty() || !producer.get().getOpType().equals("Concat") || Nodes.intAttribute(producer.get(), "axis", 0) != 0) {
            return Optional.empty();
        }
        NodeProto concat = producer.get();
        List<Entry> entries = new ArrayList<>();
        for (int p = 0; p < concat.getInputCount(); p++) {
            String part = concat.getInput(p);
            long[] values = constantLongs.apply(part);
            long[] partDims = dims.apply(part);
            if (values != null) {
                for (int i = 0; i < values.length; i++) {
                    entries.add(new Entry(values[i], part, p, i));
                }
            } else if (partDims != null && partDims.length == 1) {
                for (int i = 0; i < partDims[0]; i++) {
                    entries.add(new Entry(null, null, p, i));
                }
            } else {
                return Optional.empty();
            }
        }
        return Optional.of(new ShapeEntries(value, index.producerOf(value).orElseThrow(), entries));
    }

    /** Makes the reader's input {@code input} a copy of this shape with entry {@code index} set to {@code value}. */
    public void rewrite(GraphEditor editor, int readerPosition, int input, int index, long value) {
        Entry entry = entries.get(index);
        if (concatPosition < 0) {
            editor.setInput(readerPosition, input, editor.addConstant(entry.constant(),
                    withEntry(editor.model(), entry.constant(), entry.offset(), value)));
            return;
        }
        String constant = editor.addConstant(entry.constant(), withEntry(editor.model(), entry.constant(), entry.offset(), value));
        NodeProto concat = editor.node(concatPosition);
        String output = editor.freshName(shapeValue);
        NodeProto copy = concat.toBuilder().setName(editor.freshName(concat.getName().isEmpty() ? "Concat" : concat.getName()))
                .setInput(entry.part(), constant).setOutput(0, output).build();
        editor.insertBefore(readerPosition, copy);
        editor.setInput(readerPosition, input, output);
    }

    /** Points a node's constant integer input at a new copy of it with entry {@code entry} set to {@code value}. */
    public static void setEntry(GraphEditor editor, int position, int input, int entry, long value) {
        String name = editor.node(position).getInput(input);
        editor.setInput(position, input, editor.addConstant(name, withEntry(editor.model(), name, entry, value)));
    }

    /** The integer constant {@code name} with entry {@code entry} set to {@code value}, in the constant's own type. */
    private static TensorProto withEntry(OnnxModel model, String name, int entry, long value) {
        TensorProto stored = model.constant(name).orElseThrow();
        long[] values = model.longs(stored);
        values[entry] = value;
        return DataType.of(stored) == DataType.INT32
                ? Tensors.ofInts(name, Tensors.dims(stored), Arrays.stream(values).mapToInt(v -> (int) v).toArray())
                : Tensors.ofLongs(name, Tensors.dims(stored), values);
    }
}
