package io.modelpress.train.export;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.util.Pair;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static io.modelpress.train.export.ExportContext.integer;

/**
 * DJL's {@link ParallelBlock}: every branch reads the block's input and a join function combines the branches'
 * outputs. The join is an arbitrary Java function, so - as with named lambdas - the exporter recognises what it
 * computes by running it on random branch outputs of the exported shapes, and accepts three joins:
 *
 * <ul>
 * <li>the elementwise sum of all branches (a residual connection: {@code x + f(x)}), exported as Add;</li>
 * <li>the elementwise product with broadcasting (a gate such as squeeze-excite: {@code x * sigmoid(g(x))}, the gate
 *     shaped [N, C, 1, 1]), exported as Mul;</li>
 * <li>the concatenation along axis 1 (channels), exported as Concat.</li>
 * </ul>
 */
final class ParallelBlocks {
    private ParallelBlocks() {
    }

    private enum Join {
        SUM("Add"), PRODUCT("Mul"), CONCAT("Concat");

        final String opType;

        Join(String opType) {
            this.opType = opType;
        }

        NDArray compute(List<NDArray> branches) {
            return switch (this) {
                case SUM -> fold(branches, NDArray::add);
                case PRODUCT -> fold(branches, NDArray::mul);
                case CONCAT -> NDArrays.concat(new NDList(branches), 1);
            };
        }

        private static NDArray fold(List<NDArray> branches, java.util.function.BinaryOperator<NDArray> op) {
            NDArray result = branches.get(0);
            for (int i = 1; i < branches.size(); i++) {
                result = op.apply(result, branches.get(i));
            }
            return result;
        }
    }

    static String export(ParallelBlock block, Value input, ExportContext context) {
        if (block.getChildren().isEmpty()) {
            throw context.unsupported(block, "has no branches");
        }
        List<Value> branches = new ArrayList<>();
        for (Pair<String, Block> child : block.getChildren()) {
            branches.add(context.export(child.getValue(), child.getKey(), input));
        }
        Join join = recognise(block, branches, context);
        if (branches.size() == 1) {
            return branches.get(0).name(); // every join of one branch is that branch
        }
        if (join == Join.CONCAT) {
            return context.node("Concat", branches.stream().map(Value::name).toList(), integer("axis", 1));
        }
        String result = branches.get(0).name();
        for (int i = 1; i < branches.size(); i++) {
            result = context.node(join.opType, List.of(result, branches.get(i).name()));
        }
        return result;
    }

    /** Which join the block's function computes, checked on random branch outputs. */
    private static Join recognise(ParallelBlock block, List<Value> branches, ExportContext context) {
        Function<List<NDList>, NDList> function = joinFunction(block, context);
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), context.engineName())) {
            List<NDArray> probes = branches.stream().map(b -> manager.randomNormal(b.shape())).toList();
            NDArray actual;
            try {
                actual = function.apply(probes.stream().map(NDList::new).toList()).singletonOrThrow();
            } catch (RuntimeException e) {
                throw context.unsupported(block, "has a join function that fails on its branches' outputs ("
                        + e.getMessage() + ")");
            }
            for (Join join : Join.values()) {
                NDArray expected;
                try {
                    expected = join.compute(probes);
                } catch (RuntimeException e) {
                    continue; // shapes that do not broadcast or concatenate: not this join
                }
                if (actual.getShape().equals(expected.getShape()) && actual.allClose(expected, 1e-5, 1e-6, false)) {
                    return join;
                }
            }
        }
        throw context.unsupported(block, "has a join function that is neither the sum, the product nor the concatenation"
                + " along axis 1 of its branches' outputs (checked on random inputs), so it has no ONNX export");
    }

    @SuppressWarnings("unchecked")
    private static Function<List<NDList>, NDList> joinFunction(ParallelBlock block, ExportContext context) {
        try {
            Field field = ParallelBlock.class.getDeclaredField("function");
            field.setAccessible(true);
            return (Function<List<NDList>, NDList>) field.get(block);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw context.unsupported(block, "does not let its join function be read (" + e.getMessage()
                    + "); this DJL version is not supported by the exporter");
        }
    }
}
