package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.modelpress.train.onnx.OrtReference.positiveFloats;
import static io.modelpress.train.onnx.OrtReference.randomFloats;
import static io.modelpress.core.onnx.Nodes.attr;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every operator of the standard registry, in its common forms, run as a one-node model by the trainer and by ONNX
 * Runtime on the same inputs. Tolerance: |trainer - ONNX Runtime| <= 1e-5 + 1e-4 * |ONNX Runtime| (float32; the two
 * sum products in different orders), integer and bool outputs exactly.
 */
class OperatorConformanceTest {
    static final double ATOL = 1e-5;
    static final double RTOL = 1e-4;

    /**
     * One node; inputs whose name starts with {@code c_} are stored in the model (initializers), the others are fed.
     * A null input is an omitted optional input.
     */
    record Case(String label, String opType, long opset, List<TensorProto> inputs, int outputs, List<AttributeProto> attributes) {
        @Override
        public String toString() {
            return label;
        }

        ModelProto model() {
            GraphProto.Builder g = GraphProto.newBuilder().setName(label);
            List<String> names = new ArrayList<>();
            for (TensorProto t : inputs) {
                if (t == null) {
                    names.add("");
                } else {
                    names.add(t.getName());
                    if (t.getName().startsWith("c_")) {
                        g.addInitializer(t);
                    } else {
                        g.addInput(Nodes.tensorInfo(t.getName(), DataType.of(t), Arrays.stream(Tensors.dims(t)).boxed().toArray()));
                    }
                }
            }
            List<String> outs = new ArrayList<>();
            for (int i = 0; i < outputs; i++) {
                outs.add("y" + i);
                g.addOutput(ValueInfoProto.newBuilder().setName("y" + i).setType(TypeProto.newBuilder()
                        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(outputType(i).onnxId()))));
            }
            g.addNode(Nodes.node(opType, label, names, outs, attributes.toArray(AttributeProto[]::new)));
            return SmallModels.model(g.build(), opset);
        }

        private DataType outputType(int i) {
            return switch (opType) {
                case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or" -> DataType.BOOL;
                case "Shape", "Size" -> DataType.INT64;
                case "Dropout" -> i == 0 ? DataType.FLOAT : DataType.BOOL;
                case "CastLike" -> DataType.of(inputs.get(1));
                case "Cast" -> DataType.fromOnnx((int) attributes.stream().filter(a -> a.getName().equals("to")).findFirst().orElseThrow().getI());
                case "QuantizeLinear" -> inputs.size() > 2 ? DataType.of(inputs.get(2)) : DataType.UINT8;
                case "ConstantOfShape" -> attributes.isEmpty() ? DataType.FLOAT : DataType.of(attributes.get(0).getT());
                case "DequantizeLinear" -> DataType.FLOAT;
                case "Where" -> DataType.of(inputs.get(1));
                default -> inputs.stream().filter(t -> t != null).findFirst().map(DataType::of).orElse(DataType.FLOAT);
            };
        }

        Map<String, TensorProto> feeds() {
            Map<String, TensorProto> feeds = new LinkedHashMap<>();
            inputs.stream().filter(t -> t != null && !t.getName().startsWith("c_")).forEach(t -> feeds.put(t.getName(), t));
            return feeds;
        }
    }

    private static Case op(String label, String opType, long opset, List<TensorProto> inputs, AttributeProto... attributes) {
        return new Case(label, opType, opset, inputs, 1, List.of(attributes));
    }

    private static TensorProto x(long... shape) {
        return randomFloats("x", new Random(Arrays.hashCode(shape)), 1.5, 0, shape);
    }

    private static TensorProto floats(String name, long seed, long... shape) {
        return randomFloats(name, new Random(seed), 1.0, 0, shape);
    }

    private static TensorProto longs(String name, long... values) {
        return Tensors.ofLongs(name, new long[] {values.length}, values);
    }

    static Stream<Case> cases() {
        Random r = new Random(7);
        TensorProto x234 = x(2, 3, 4);
        TensorProto image = x(2, 4, 7, 7);
        List<Case> cases = new ArrayList<>(List.of(
                // elementwise, with broadcasting
                op("Add broadcast", "Add", 17, List.of(x234, floats("b", 1, 4))),
                op("Sub", "Sub", 17, List.of(x234, floats("b", 2, 3, 1))),
                op("Mul", "Mul", 17, List.of(x234, floats("c_w", 3, 2, 3, 4))),
                op("Div", "Div", 17, List.of(x234, positiveFloats("b", r, 4))),
                op("Div int64 truncates", "Div", 17, List.of(longs("a", -7, 7, 9, -9), longs("b", 2, -2, 4, 4))),
                op("Pow float exponent", "Pow", 17, List.of(positiveFloats("x", r, 3, 4), floats("e", 4, 4))),
                op("Pow scalar 2", "Pow", 17, List.of(x234, Tensors.scalarFloat("c_two", 2f))),
                op("Max", "Max", 17, List.of(x234, floats("b", 5, 4), floats("c", 6, 3, 4))),
                op("Min", "Min", 17, List.of(x234, floats("b", 5, 4))),
                op("Equal int64", "Equal", 17, List.of(longs("a", 1, 2, 3, 4), longs("b", 1, 0, 3, 0))),
                op("Less", "Less", 17, List.of(x234, floats("b", 8, 4))),
                op("Greater", "Greater", 17, List.of(x234, floats("b", 8, 4))),
                op("LessOrEqual int64", "LessOrEqual", 17, List.of(longs("a", 1, 2, 3), longs("b", 2, 2, 2))),
                op("GreaterOrEqual int64", "GreaterOrEqual", 17, List.of(longs("a", 1, 2, 3), longs("b", 2, 2, 2))),
                op("And", "And", 17, List.of(Tensors.ofBools("a", new long[] {6}, bools(r, 6)), Tensors.ofBools("b", new long[] {6}, bools(r, 6)))),
                op("Or", "Or", 17, List.of(Tensors.ofBools("a", new long[] {6}, bools(r, 6)), Tensors.ofBools("b", new long[] {6}, bools(r, 6)))),
                op("Not", "Not", 17, List.of(Tensors.ofBools("a", new long[] {2, 3}, bools(r, 6)))),
                op("Floor", "Floor", 17, List.of(x234)),
                op("Ceil", "Ceil", 17, List.of(x234)),
                op("Where", "Where", 17, List.of(Tensors.ofBools("cond", new long[] {3, 4}, bools(r, 12)), x234, floats("b", 9, 4))),
                op("Neg", "Neg", 17, List.of(x234)),
                op("Abs", "Abs", 17, List.of(x234)),
                op("Sqrt", "Sqrt", 17, List.of(positiveFloats("x", r, 3, 5))),
                op("Exp", "Exp", 17, List.of(x234)),
                op("Log", "Log", 17, List.of(positiveFloats("x", r, 3, 5))),
                op("Reciprocal", "Reciprocal", 17, List.of(positiveFloats("x", r, 3, 5))),
                op("Erf", "Erf", 17, List.of(x234)),
                op("Tanh", "Tanh", 17, List.of(x234)),
                op("Sigmoid", "Sigmoid", 17, List.of(x234)),
                op("Relu", "Relu", 17, List.of(x234)),
                op("LeakyRelu", "LeakyRelu", 17, List.of(x234), attr("alpha", 0.1f)),
                op("HardSigmoid", "HardSigmoid", 17, List.of(x234), attr("alpha", 0.3f), attr("beta", 0.4f)),
                op("HardSwish", "HardSwish", 17, List.of(randomFloats("x", r, 4, 0, 3, 8))),
                op("Gelu exact", "Gelu", 20, List.of(x234)),
                op("Gelu tanh", "Gelu", 20, List.of(x234), attr("approximate", "tanh")),
                op("Clip inputs", "Clip", 13, List.of(x234, Tensors.scalarFloat("c_lo", -0.5f), Tensors.scalarFloat("c_hi", 0.7f))),
                op("Clip only max", "Clip", 13, Arrays.asList(x234, null, Tensors.scalarFloat("c_hi", 0.7f))),
                op("Clip attributes", "Clip", 9, List.of(x234), attr("min", -0.2f), attr("max", 0.3f)),
                op("Softmax axis 1", "Softmax", 13, List.of(x234), attr("axis", 1L)),
                op("Softmax opset 11 coerces to 2-D", "Softmax", 11, List.of(x234), attr("axis", 1L)),
                op("LogSoftmax", "LogSoftmax", 13, List.of(x234)),
                // neural network
                op("Conv pads strides groups bias", "Conv", 17, List.of(image, floats("c_w", 10, 6, 2, 3, 3), floats("c_b", 11, 6)),
                        attr("pads", 1L, 1L, 1L, 1L), attr("strides", 2L, 2L), attr("group", 2L)),
                op("Conv asymmetric pads, dilation", "Conv", 17, List.of(image, floats("c_w", 12, 3, 4, 3, 2)),
                        attr("pads", 0L, 1L, 2L, 0L), attr("dilations", 2L, 1L)),
                op("Conv SAME_UPPER", "Conv", 17, List.of(image, floats("c_w", 13, 5, 4, 3, 3)), attr("auto_pad", "SAME_UPPER"),
                        attr("strides", 2L, 2L)),
                op("Conv 1-D", "Conv", 17, List.of(x(2, 3, 9), floats("c_w", 14, 4, 3, 3), floats("c_b", 15, 4)), attr("pads", 1L, 1L)),
                op("Gemm transB alpha beta", "Gemm", 17, List.of(x(3, 5), floats("c_w", 16, 4, 5), floats("c_b", 17, 4)),
                        attr("transB", 1L), attr("alpha", 0.5f), attr("beta", 2f)),
                op("Gemm transA", "Gemm", 17, List.of(x(5, 3), floats("c_w", 18, 5, 4)), attr("transA", 1L)),
                op("MatMul 3-D x 2-D", "MatMul", 17, List.of(x234, floats("c_w", 19, 4, 6))),
                op("MatMul batched 4-D", "MatMul", 17, List.of(x(2, 3, 4, 5), floats("b", 20, 2, 3, 5, 2))),
                op("MaxPool", "MaxPool", 17, List.of(image), attr("kernel_shape", 2L, 2L), attr("strides", 2L, 2L)),
                op("MaxPool pads ceil", "MaxPool", 17, List.of(image), attr("kernel_shape", 3L, 3L), attr("strides", 2L, 2L),
                        attr("pads", 1L, 0L, 1L, 1L), attr("ceil_mode", 1L)),
                op("AveragePool pads excluded", "AveragePool", 17, List.of(image), attr("kernel_shape", 3L, 3L),
                        attr("strides", 2L, 2L), attr("pads", 1L, 1L, 1L, 1L)),
                op("AveragePool pads included", "AveragePool", 17, List.of(image), attr("kernel_shape", 3L, 3L),
                        attr("pads", 1L, 1L, 1L, 1L), attr("count_include_pad", 1L)),
                op("AveragePool ceil", "AveragePool", 17, List.of(image), attr("kernel_shape", 2L, 2L), attr("strides", 2L, 2L),
                        attr("ceil_mode", 1L)),
                op("GlobalAveragePool", "GlobalAveragePool", 17, List.of(image)),
                op("GlobalMaxPool", "GlobalMaxPool", 17, List.of(image)),
                op("Dropout at inference", "Dropout", 13, List.of(x234, Tensors.scalarFloat("c_ratio", 0.3f))),
                // normalisation
                op("BatchNormalization", "BatchNormalization", 15, List.of(image, floats("c_s", 21, 4), floats("c_b", 22, 4),
                        floats("c_m", 23, 4), positiveFloats("c_v", r, 4)), attr("epsilon", 1e-3f)),
                op("LayerNormalization", "LayerNormalization", 17, List.of(x234, floats("c_s", 24, 4), floats("c_b", 25, 4))),
                op("LayerNormalization axis 1 no bias", "LayerNormalization", 17, List.of(x234, floats("c_s", 26, 3, 4)), attr("axis", 1L)),
                // shape and indexing
                op("Flatten axis 2", "Flatten", 17, List.of(image), attr("axis", 2L)),
                op("Reshape 0 and -1", "Reshape", 17, List.of(x234, longs("c_shape", 0, -1))),
                op("Reshape fed shape", "Reshape", 17, List.of(x234, longs("shape", 4, 1, 6))),
                op("Transpose", "Transpose", 17, List.of(x234), attr("perm", 2L, 0L, 1L)),
                op("Squeeze input axes", "Squeeze", 17, List.of(x(3, 1, 4, 1), longs("c_axes", -1))),
                op("Squeeze attribute axes", "Squeeze", 11, List.of(x(3, 1, 4, 1)), attr("axes", new long[] {1})),
                op("Unsqueeze input axes", "Unsqueeze", 17, List.of(x234, longs("c_axes", 0, -1))),
                op("Unsqueeze attribute axes", "Unsqueeze", 11, List.of(x234), attr("axes", new long[] {1})),
                op("Concat", "Concat", 17, List.of(x234, floats("b", 27, 2, 2, 4)), attr("axis", 1L)),
                op("Slice steps and negatives", "Slice", 17, List.of(x(5, 6, 4), longs("c_s", 1, -5), longs("c_e", 5, 100),
                        longs("c_a", 0, 1), longs("c_st", 2, 2))),
                op("Slice backwards", "Slice", 17, List.of(x(5, 6, 4), longs("c_s", -1, 4), longs("c_e", -100, 0),
                        longs("c_a", 0, 2), longs("c_st", -2, -1))),
                op("Slice fed bounds", "Slice", 17, List.of(x(5, 6, 4), longs("s", 1), longs("e", 3), longs("a", 1))),
                op("Gather 2-D negative indices", "Gather", 17, List.of(x(5, 6, 4),
                        Tensors.ofLongs("c_i", new long[] {2, 2}, new long[] {0, -1, 3, 2})), attr("axis", 1L)),
                op("Gather fed indices", "Gather", 17, List.of(x(5, 6), Tensors.ofLongs("i", new long[] {3}, new long[] {4, 0, 4}))),
                op("Gather scalar index", "Gather", 17, List.of(x(5, 6), Tensors.scalarLong("c_i", 2)), attr("axis", 1L)),
                op("Shape start", "Shape", 17, List.of(image), attr("start", 1L)),
                op("Cast to int64", "Cast", 17, List.of(randomFloats("x", r, 5, 0, 3, 4)), attr("to", (long) DataType.INT64.onnxId())),
                op("Cast int64 to float", "Cast", 17, List.of(longs("x", 3, -2, 7)), attr("to", (long) DataType.FLOAT.onnxId())),
                op("Expand", "Expand", 17, List.of(x(3, 1), longs("c_shape", 2, 1, 4))),
                op("ConstantOfShape", "ConstantOfShape", 17, List.of(longs("c_shape", 2, 3)),
                        attr("value", Tensors.ofFloats("v", new long[] {1}, new float[] {1.5f}))),
                op("Identity", "Identity", 17, List.of(x234)),
                op("Size", "Size", 17, List.of(x234)),
                op("CastLike", "CastLike", 17, List.of(randomFloats("x", r, 5, 0, 3, 4), longs("like", 1))),
                op("Range int64", "Range", 17, List.of(Tensors.scalarLong("c_start", 2), Tensors.scalarLong("c_limit", 11),
                        Tensors.scalarLong("c_delta", 3))),
                op("Range float", "Range", 17, List.of(Tensors.scalarFloat("c_start", 0.5f), Tensors.scalarFloat("c_limit", -2f),
                        Tensors.scalarFloat("c_delta", -0.75f))),
                // reductions
                op("ReduceMean attribute axes", "ReduceMean", 13, List.of(x234), attr("axes", 1L, 2L), attr("keepdims", 0L)),
                op("ReduceMean input axes", "ReduceMean", 18, List.of(x234, longs("c_axes", -1))),
                op("ReduceSum", "ReduceSum", 13, List.of(x234, longs("c_axes", 0))),
                op("ReduceMax all", "ReduceMax", 13, List.of(x234), attr("keepdims", 0L)),
                op("ReduceMin", "ReduceMin", 13, List.of(x234), attr("axes", new long[] {0, 2})),
                // quantization
                op("QuantizeLinear uint8", "QuantizeLinear", 13, List.of(x234, Tensors.scalarFloat("c_s", 0.02f),
                        Tensors.ofBytes("c_z", DataType.UINT8, new long[0], new byte[] {(byte) 128}))),
                op("QuantizeLinear int8 per axis", "QuantizeLinear", 13, List.of(x234, Tensors.ofFloats("c_s", new long[] {3},
                        new float[] {0.01f, 0.02f, 0.03f}), Tensors.ofBytes("c_z", DataType.INT8, new long[] {3}, new byte[] {0, 3, -2}))),
                op("DequantizeLinear int8 per axis", "DequantizeLinear", 13, List.of(
                        Tensors.ofBytes("q", DataType.INT8, new long[] {2, 3}, new byte[] {-128, -5, 0, 7, 100, 127}),
                        Tensors.ofFloats("c_s", new long[] {3}, new float[] {0.5f, 0.1f, 2f}),
                        Tensors.ofBytes("c_z", DataType.INT8, new long[] {3}, new byte[] {1, 0, -1})), attr("axis", 1L)),
                op("DequantizeLinear int32", "DequantizeLinear", 13, List.of(
                        Tensors.ofInts("c_q", new long[] {4}, new int[] {-1000, 0, 12345, 7}), Tensors.scalarFloat("c_s", 0.001f)))));
        cases.add(new Case("LayerNormalization mean and inverse deviation", "LayerNormalization", 17,
                List.of(x234, floats("c_s", 28, 4)), 3, List.of()));
        cases.add(new Case("Split sizes input", "Split", 17, List.of(x(2, 7), longs("c_split", 2, 5)), 2, List.of(attr("axis", 1L))));
        cases.add(new Case("Split equal attribute", "Split", 11, List.of(x(6, 2)), 3, List.of()));
        cases.add(new Case("BatchNormalization training mode", "BatchNormalization", 15, List.of(image, floats("c_s", 29, 4),
                floats("c_b", 30, 4), floats("c_m", 31, 4), positiveFloats("c_v", r, 4)), 3, List.of(attr("training_mode", 1L))));
        return cases.stream();
    }

    private static boolean[] bools(Random r, int n) {
        boolean[] b = new boolean[n];
        for (int i = 0; i < n; i++) {
            b[i] = r.nextBoolean();
        }
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOnnxRuntime(Case c) {
        ModelProto model = c.model();
        Map<String, OrtReference.Values> expected = OrtReference.run(model, c.feeds(), false);
        try (OnnxGraphModule module = OnnxGraphModule.load(OnnxModel.of(model)); NDManager scope = NDManager.newBaseManager()) {
            Map<String, NDArray> actual = module.predict(scope, OrtReference.arrays(scope, c.feeds()));
            assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
            for (String name : expected.keySet()) {
                OrtReference.assertClose(c.label() + " " + name, expected.get(name), OrtReference.values(actual.get(name)), ATOL, RTOL);
            }
        }
    }

    /** Every operator the registry offers has a case here (Constant nodes become constants when a model loads). */
    @Test
    void everyRegisteredOperatorIsChecked() {
        Set<String> checked = cases().map(Case::opType).collect(Collectors.toCollection(TreeSet::new));
        checked.add("Constant");
        assertThat(checked).containsAll(OperatorRegistry.standard().supported());
    }

    /**
     * The chain exporters emit for dynamic shapes - Shape, Gather, Unsqueeze, Concat into Reshape, and a Slice bound
     * from a Shape - computed on the host, at two input sizes with the same module.
     */
    @Test
    void dynamicShapeChainMatchesOnnxRuntime() {
        GraphProto g = GraphProto.newBuilder().setName("shape_chain")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", "tokens", 6))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", "tokens", 2, 3))
                .addOutput(Nodes.tensorInfo("first", DataType.FLOAT, "batch", "half", 6))
                .addInitializer(Tensors.scalarLong("zero", 0)).addInitializer(Tensors.scalarLong("one", 1))
                .addInitializer(Tensors.ofLongs("heads", new long[] {1}, new long[] {2}))
                .addInitializer(Tensors.ofLongs("minus_one", new long[] {1}, new long[] {-1}))
                .addInitializer(Tensors.ofLongs("axis1", new long[] {1}, new long[] {1}))
                .addInitializer(Tensors.ofLongs("start", new long[] {1}, new long[] {0}))
                .addInitializer(Tensors.scalarLong("two", 2))
                .addNode(Nodes.node("Shape", "shape", List.of("x"), List.of("s")))
                .addNode(Nodes.node("Gather", "batch", List.of("s", "zero"), List.of("b")))
                .addNode(Nodes.node("Gather", "tokens", List.of("s", "one"), List.of("t")))
                .addNode(Nodes.node("Unsqueeze", "ub", List.of("b", "start"), List.of("b1")))
                .addNode(Nodes.node("Unsqueeze", "ut", List.of("t", "start"), List.of("t1")))
                .addNode(Nodes.node("Concat", "target", List.of("b1", "t1", "heads", "minus_one"), List.of("shape"), attr("axis", 0L)))
                .addNode(Nodes.node("Reshape", "split_heads", List.of("x", "shape"), List.of("y")))
                .addNode(Nodes.node("Div", "half", List.of("t", "two"), List.of("h")))
                .addNode(Nodes.node("Unsqueeze", "uh", List.of("h", "start"), List.of("h1")))
                .addNode(Nodes.node("Slice", "first_half", List.of("x", "start", "h1", "axis1"), List.of("first")))
                .build();
        ModelProto model = SmallModels.model(g, 17);
        try (OnnxGraphModule module = OnnxGraphModule.load(OnnxModel.of(model)); NDManager scope = NDManager.newBaseManager()) {
            for (long tokens : new long[] {5, 8}) {
                Map<String, TensorProto> feeds = Map.of("x", randomFloats("x", new Random(tokens), 1, 0, 3, tokens, 6));
                Map<String, OrtReference.Values> expected = OrtReference.run(model, feeds, false);
                Map<String, NDArray> actual = module.predict(scope, OrtReference.arrays(scope, feeds));
                for (String name : List.of("y", "first")) {
                    OrtReference.assertClose(name + " at " + tokens + " tokens", expected.get(name), OrtReference.values(actual.get(name)), 0, 0);
                }
            }
        }
    }
}
