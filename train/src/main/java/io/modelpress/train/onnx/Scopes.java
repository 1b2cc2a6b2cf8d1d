package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * DJL puts the result of an operation in its first operand's manager. To keep temporaries out of long-lived managers
 * (the model's weights), a computation borrows its inputs into a short-lived scope: they return to their owners when
 * the scope closes, together with every temporary made from them, and only the result is kept.
 */
final class Scopes {
    private Scopes() {
    }

    /** Computes {@code body} with {@code inputs} borrowed into a scope under {@code into}; the result moves to {@code into}. */
    static NDArray compute(NDManager into, List<NDArray> inputs, Function<NDManager, NDArray> body) {
        try (NDManager scope = into.newSubManager()) {
            Set<NDArray> borrowed = borrow(scope, inputs);
            NDArray result = body.apply(scope);
            if (borrowed.contains(result)) {
                result = result.reshape(result.getShape());
            }
            result.attach(into);
            return result;
        }
    }

    /** Attaches each distinct array to {@code scope} until it closes; returns the identity set of those arrays. */
    static Set<NDArray> borrow(NDManager scope, List<NDArray> arrays) {
        Set<NDArray> borrowed = Collections.newSetFromMap(new IdentityHashMap<>());
        for (NDArray array : arrays) {
            if (array != null && borrowed.add(array)) {
                array.tempAttach(scope);
            }
        }
        return borrowed;
    }
}
