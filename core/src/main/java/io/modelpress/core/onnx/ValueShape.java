package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The declared type and shape of a graph value. Dimensions are either fixed ({@code value >= 0}) or symbolic
 * ({@code param}, e.g. "batch"), or unknown (neither).
 */
public record ValueShape(String name, DataType type, List<Dim> dims, boolean rankKnown) {

    public record Dim(long value, String param) {
        public boolean isFixed() {
            return value >= 0;
        }

        @Override
        public String toString() {
            return isFixed() ? Long.toString(value) : (param == null || param.isEmpty() ? "?" : param);
        }
    }

    public static ValueShape of(ValueInfoProto info) {
        TypeProto type = info.getType();
        if (!type.hasTensorType()) {
            return new ValueShape(info.getName(), null, List.of(), false);
        }
        TypeProto.Tensor tensor = type.getTensorType();
        DataType dataType = tensor.getElemType() == 0 ? null : DataType.fromOnnx(tensor.getElemType());
        if (!tensor.hasShape()) {
            return new ValueShape(info.getName(), dataType, List.of(), false);
        }
        List<Dim> dims = new ArrayList<>();
        for (TensorShapeProto.Dimension d : tensor.getShape().getDimList()) {
            if (d.hasDimValue()) {
                dims.add(new Dim(d.getDimValue(), null));
            } else {
                dims.add(new Dim(-1, d.hasDimParam() ? d.getDimParam() : null));
            }
        }
        return new ValueShape(info.getName(), dataType, List.copyOf(dims), true);
    }

    public boolean isFullyKnown() {
        return rankKnown && dims.stream().allMatch(Dim::isFixed);
    }

    /** Fixed dimensions, with every unknown or symbolic one replaced by {@code fill}. */
    public long[] concreteDims(long fill) {
        return dims.stream().mapToLong(d -> d.isFixed() ? d.value() : fill).toArray();
    }

    @Override
    public String toString() {
        String typeName = type == null ? "?" : type.displayName();
        return name + ": " + typeName + (rankKnown ? dims.stream().map(Dim::toString).collect(Collectors.joining(",", "[", "]")) : "[?]");
    }
}
