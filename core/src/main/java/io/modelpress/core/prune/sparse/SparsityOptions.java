package io.modelpress.core.prune.sparse;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.recipe.StageSpec;

import java.util.List;
import java.util.Locale;

/**
 * How to make weights sparse. See docs/recipes.md ("Pruning") for the exact meaning of each pattern.
 *
 * @param method     magnitude (unstructured), n:m (n of every m consecutive weights along the reduction axis kept),
 *                   or block (whole blocks of the weight matrix zeroed by block norm)
 * @param ratio      fraction of weights (magnitude) or blocks (block) zeroed, from 0 to below 1; n:m ignores it
 * @param scope      per-layer: the ratio applies to each layer; global: one ranking over all prunable weights
 * @param allocation magnitude only: how many weights each layer loses (uniform, lamp, erk)
 * @param n          weights kept in every group of m (n:m)
 * @param m          group length along the reduction axis (n:m)
 * @param blockRows  block height in the weight matrix (block)
 * @param blockCols  block width in the weight matrix (block)
 * @param embeddings also prune Gather tables (embeddings); off by default, as they hold no multiply-accumulates
 * @param selector   which nodes' weights may be pruned (include/exclude)
 */
public record SparsityOptions(Method method, double ratio, Scope scope, Allocation allocation, int n, int m,
                              int blockRows, int blockCols, boolean embeddings, NodeSelector selector) {

    public enum Method {
        MAGNITUDE("magnitude"), N_M("n:m"), BLOCK("block");

        private final String key;

        Method(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    public enum Scope {
        PER_LAYER("per-layer"), GLOBAL("global");

        private final String key;

        Scope(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    public enum Allocation {
        UNIFORM, LAMP, ERK;

        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public static final int MAX_GROUP = 256;
    public static final int MAX_BLOCK = 4096;

    public SparsityOptions {
        check(method != null && scope != null && allocation != null && selector != null, "method, scope, allocation and selector are required");
        check(ratio >= 0 && ratio < 1, "ratio must be at least 0 and below 1, found " + ratio);
        check(n >= 1 && n < m && m <= MAX_GROUP, "n:m needs 1 <= n < m <= " + MAX_GROUP + ", found n " + n + ", m " + m);
        check(blockRows >= 1 && blockCols >= 1 && blockRows <= MAX_BLOCK && blockCols <= MAX_BLOCK,
                "block sides must be from 1 to " + MAX_BLOCK + ", found [" + blockRows + ", " + blockCols + "]");
        check(allocation == Allocation.UNIFORM || method == Method.MAGNITUDE,
                "allocation: " + allocation.key() + " applies only to method: magnitude");
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "sparsity options", message);
        }
    }

    /** Unstructured magnitude pruning, each layer losing {@code ratio} of its weights. */
    public static SparsityOptions magnitude(double ratio) {
        return new SparsityOptions(Method.MAGNITUDE, ratio, Scope.PER_LAYER, Allocation.UNIFORM, 2, 4, 1, 1, false, NodeSelector.ALL);
    }

    /** n of every m consecutive weights along the reduction axis kept. */
    public static SparsityOptions nOfM(int n, int m) {
        return new SparsityOptions(Method.N_M, 0, Scope.PER_LAYER, Allocation.UNIFORM, n, m, 1, 1, false, NodeSelector.ALL);
    }

    /** {@code ratio} of the [rows, cols] blocks of each weight matrix zeroed, those of least norm first. */
    public static SparsityOptions block(int rows, int cols, double ratio) {
        return new SparsityOptions(Method.BLOCK, ratio, Scope.PER_LAYER, Allocation.UNIFORM, 2, 4, rows, cols, false, NodeSelector.ALL);
    }

    public SparsityOptions withScope(Scope newScope) {
        return new SparsityOptions(method, ratio, newScope, allocation, n, m, blockRows, blockCols, embeddings, selector);
    }

    public SparsityOptions withAllocation(Allocation newAllocation) {
        return new SparsityOptions(method, ratio, scope, newAllocation, n, m, blockRows, blockCols, embeddings, selector);
    }

    public SparsityOptions withEmbeddings(boolean include) {
        return new SparsityOptions(method, ratio, scope, allocation, n, m, blockRows, blockCols, include, selector);
    }

    public SparsityOptions withSelector(NodeSelector newSelector) {
        return new SparsityOptions(method, ratio, scope, allocation, n, m, blockRows, blockCols, embeddings, newSelector);
    }

    /**
     * Options from a recipe stage: {@code method} (magnitude | n:m | block), {@code ratio}, {@code scope}
     * (global | per-layer), {@code allocation} (uniform | lamp | erk), {@code n}, {@code m}, {@code block: [rows, cols]},
     * {@code embeddings}, {@code include}, {@code exclude}. Keys left out take the defaults of {@link #magnitude}.
     */
    public static SparsityOptions from(StageSpec spec) {
        String where = spec.label();
        Method method = parse(Method.values(), spec.has("method") ? spec.string("method") : "magnitude", Method::key, where, "method");
        Scope scope = parse(Scope.values(), spec.has("scope") ? spec.string("scope") : "per-layer", Scope::key, where, "scope");
        Allocation allocation = parse(Allocation.values(), spec.has("allocation") ? spec.string("allocation") : "uniform",
                Allocation::key, where, "allocation");
        double ratio = spec.has("ratio") ? spec.number("ratio") : (method == Method.N_M ? 0 : 0.5);
        int n = spec.has("n") ? (int) spec.integer("n") : 2;
        int m = spec.has("m") ? (int) spec.integer("m") : 4;
        int[] block = spec.has("block") ? blockShape(spec.params().get("block"), where) : new int[] {1, 1};
        if (method == Method.BLOCK && !spec.has("block")) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, where, "method: block needs block: [rows, cols]");
        }
        try {
            return new SparsityOptions(method, ratio, scope, allocation, n, m, block[0], block[1],
                    spec.has("embeddings") && spec.bool("embeddings"), spec.selector());
        } catch (ModelPressException e) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, where, e.detail());
        }
    }

    private static int[] blockShape(Object value, String where) {
        if (value instanceof List<?> list && list.size() == 2) {
            int[] shape = new int[2];
            for (int i = 0; i < 2; i++) {
                Object v = list.get(i);
                try {
                    shape[i] = v instanceof Number number ? number.intValue() : Integer.parseInt(String.valueOf(v).trim());
                } catch (NumberFormatException e) {
                    throw new ModelPressException(ErrorCode.BAD_RECIPE, where, "block: expected [rows, cols] as two integers, found " + value);
                }
            }
            return shape;
        }
        throw new ModelPressException(ErrorCode.BAD_RECIPE, where, "block: expected [rows, cols] as two integers, found " + value);
    }

    private static <E> E parse(E[] values, String text, java.util.function.Function<E, String> key, String where, String name) {
        for (E v : values) {
            if (key.apply(v).equals(text)) {
                return v;
            }
        }
        throw new ModelPressException(ErrorCode.BAD_RECIPE, where, name + ": expected one of "
                + java.util.Arrays.stream(values).map(key).toList() + ", found '" + text + "'");
    }
}
