package io.modelpress.core.recipe;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The keys of core's stage types and of a recipe's {@code tuning}: the single source for validation, defaults and
 * docs/recipes.md. Which stage types a recipe may name is found at run time ({@link StageTypes#ofThisProcess()}:
 * core's, and those other modules contribute with their own keys). Stage types of the design that no module provides
 * yet are listed in {@link #PLANNED} so that recipes using them fail with an honest message rather than "unknown".
 */
public final class RecipeSchema {
    private RecipeSchema() {
    }

    private static Param selection(String name) {
        return Param.object(name, "nodes to " + name + ": by node name, operator type, or name pattern (regular expression)",
                Param.strings("nodes", "node names"), Param.strings("ops", "operator types, e.g. MatMul"),
                Param.strings("patterns", "regular expressions matched against whole node names"));
    }

    public static final Map<String, Param> QUANTIZE = params(
            Param.choice("mode", null, "dynamic: int8 weights, activations quantized at run time; static: QDQ int8 "
                    + "calibrated on data; weight-only: block-wise int4/int8 MatMul weights", "dynamic", "static", "weight-only"),
            Param.choice("weights", null, "weight type (default int8; int4 for weight-only)", "int8", "uint8", "int4", "uint4",
                    "int8-per-channel", "int8-per-tensor"),
            Param.choice("granularity", "per-channel", "one scale per output channel, or one per tensor", "per-channel", "per-tensor")
                    .onlyIn("dynamic", "static"),
            Param.bool("symmetric_weights", true, "zero point at the middle of the range (static mode: per-channel weights are always "
                    + "symmetric, as ONNX Runtime's QLinearConv takes one weight zero point)"),
            Param.bool("embeddings", true, "also quantize Gather embedding tables to 8 bit").onlyIn("dynamic", "static"),
            Param.numberOrFalse("smoothquant", 0, 1, 0.5, "SmoothQuant migration strength alpha, or false (static mode: applied to "
                    + "MatMul/Gemm inputs computed in float)").onlyIn("dynamic", "static").withModeDefault("dynamic", 0.8),
            Param.integer("keep_float", 0, 10_000, 0L, "leave this many of the most sensitive MatMul/Gemm (static mode: also Conv) nodes in float").onlyIn("dynamic", "static"),
            Param.integer("outlier_channels", 0, 64, 0L, "with data: compute up to this many extreme outlier input channels of a "
                    + "MatMul in float on a side path (0: off)").onlyIn("dynamic"),
            Param.bool("merge_siblings", false, "merge MatMuls that read the same activation (attention's Q, K, V) into one "
                    + "integer kernel (needs per-channel weights)").onlyIn("dynamic"),
            Param.bool("sequence_major", true, "store token activations [sequence, batch, ...] so that attention reads Q, K and V "
                    + "without transposing them, and fold attention masks into the Q.K products (each checked exact on the data, or "
                    + "on made-up token ids without data; the model's inputs and outputs keep their layout)")
                    .onlyIn("dynamic"),
            Param.choice("activations", "uint8", "activation type", "uint8", "int8").onlyIn("static"),
            Param.bool("symmetric_activations", false, "symmetric activation ranges").onlyIn("static"),
            Param.choice("calibration", "percentile", "how activation ranges are chosen from calibration data",
                    "minmax", "percentile", "entropy", "mse").onlyIn("static"),
            Param.number("percentile", 90, 100, 99.999, "percentile of |activation| kept, for calibration: percentile").onlyIn("static"),
            Param.integer("calibration_samples", 1, 1_000_000, 256L, "samples of the data used for calibration").onlyIn("static", "dynamic"),
            Param.bool("fold_batchnorm", true, "fold BatchNormalization into the preceding Conv first").onlyIn("static"),
            Param.integer("block_size", 16, 256, 32L, "values per scale along K (power of two)").onlyIn("weight-only"),
            Param.integer("accuracy_level", 0, 4, 4L, "MatMulNBits compute type: 0 default, 1 fp32, 2 fp16, 3 bf16, 4 int8").onlyIn("weight-only"),
            selection("include"),
            selection("exclude"));

    public static final Map<String, Param> CONVERT = params(
            Param.choice("to", "fp16", "target float type", "fp16"),
            Param.bool("keep_io_types", true, "keep float32 model inputs and outputs (casts at the edges)"),
            Param.integer("check_samples", 0, 10_000, 8L, "samples of the data (synthetic inputs without data) on which the "
                    + "float16 model is checked against the original, keeping float32 where values overflow or outputs deviate; "
                    + "0 skips the check"),
            Param.number("min_cosine", 0, 1, 0.999, "cosine to the original each float output must keep in the check"),
            selection("include"),
            selection("exclude"));

    private static final String[] SPARSE = {"magnitude", "n:m", "block"};
    private static final String[] SELECTIVE = {"magnitude", "n:m", "block", "structured"};

    public static final Map<String, Param> PRUNE = params(
            Param.choice("method", null, "magnitude: the weights of least |w| zeroed (unstructured); n:m: n of every m weights "
                    + "along the reduction axis kept; block: weight blocks of least norm zeroed; structured: whole Conv filters, "
                    + "Gemm/MatMul neurons and attention heads removed through the channel dependency graph; layers: repeated "
                    + "blocks (transformer layers, residual stages) removed", "magnitude", "n:m", "block", "structured", "layers"),
            Param.number("ratio", 0, 1, null, "fraction removed, below 1: of the weights (magnitude), of the blocks (block), of "
                    + "each group's channels (structured; 0 when only `heads`/`ffn` are given)").onlyIn("magnitude", "block", "structured"),
            Param.choice("scope", "per-layer", "per-layer: every layer (structured: group) loses its fraction; global: one ranking "
                    + "over all of them, so less important layers lose more", "per-layer", "global").onlyIn("magnitude", "block", "structured"),
            Param.choice("allocation", "uniform", "how much of its density each layer keeps: uniform, lamp (layer-adaptive "
                    + "magnitude score), erk (Erdos-Renyi-kernel)", "uniform", "lamp", "erk").onlyIn("magnitude"),
            Param.integer("n", 1, 255, 2L, "weights kept in every group of m").onlyIn("n:m"),
            Param.integer("m", 2, 256, 4L, "group length along the reduction axis").onlyIn("n:m"),
            Param.integers("block", 1, 4096, "block shape [rows, cols] in the weight matrix (required)").onlyIn("block"),
            Param.bool("embeddings", false, "also prune Gather tables (embeddings)").onlyIn(SPARSE),
            Param.number("heads", 0, 1, null, "fraction of attention heads removed, below 1 (default `ratio`)").onlyIn("structured"),
            Param.number("ffn", 0, 1, null, "fraction of Gemm/MatMul neurons removed (a transformer's FFN), below 1 "
                    + "(default `ratio`)").onlyIn("structured"),
            Param.choice("criterion", "l1", "how channels are ranked: l1 or l2 weight magnitude, bn_scale (|gamma| of their "
                    + "BatchNormalizations), activation (mean |activation| on the run's data times weight norm; needs data), "
                    + "taylor (first-order |w * dL/dw| summed over the run's data, the model's own predictions as targets; "
                    + "needs data and the train module: `modelpress compress` has it, the prune-worker does not)",
                    "l1", "l2", "bn_scale", "activation", "taylor").onlyIn("structured"),
            Param.integer("round_to", 1, 4096, 16L, "kept widths are multiples of this many channels (16: ONNX Runtime's CPU "
                    + "convolutions work in blocks of 16 channels on AVX-512, 8 on AVX2)").onlyIn("structured"),
            Param.integers("drop", 0, 100_000, "indices of the repeated blocks to remove, from 0 in graph order").onlyIn("layers"),
            Param.integer("keep", 1, 100_000, null, "how many repeated blocks stay (with data: those that change their input "
                    + "most; without: evenly spaced)").onlyIn("layers"),
            Param.integer("samples", 1, 1_000_000, 64L, "samples of the data observed by criterion: activation or taylor "
                    + "and by keep").onlyIn("structured", "layers"),
            selection("include").onlyIn(SELECTIVE),
            selection("exclude").onlyIn(SELECTIVE));

    public static final Map<String, Param> LOWRANK = params(
            Param.number("rank_ratio", 0, 1, null, "rank kept, as a fraction of min(K, N) of each weight (give this or `energy`)"),
            Param.number("energy", 0, 1, null, "fraction of the squared singular values kept: the smallest rank that keeps it "
                    + "(give this or `rank_ratio`)"),
            selection("include"),
            selection("exclude"));

    public static final Map<String, Param> EVAL = params(
            Param.choices("metrics", List.of("accuracy", "agreement", "cosine", "mse", "kl", "latency", "size"),
                    "what to measure against the original model", "accuracy", "agreement", "cosine", "mse", "kl", "latency", "size"),
            Param.integer("batch", 1, 4096, 32L, "batch size for fidelity and batched latency"),
            Param.integer("samples", 1, 10_000_000, 1000L, "most samples of the data to evaluate"),
            Param.inputShapes("shape", "shapes of model inputs with symbolic dimensions, for synthetic inputs (no data): the "
                    + "full shape or the shape without the batch dimension, which follows `batch`; "
                    + "the CLI's --shape overrides it input by input"),
            Param.inputValues("value", "constants for model inputs that need a particular value (a sample rate, a flag): "
                    + "they fill synthetic inputs, and inputs a data file does not hold; the CLI's --value overrides it input by input"),
            gate());

    /** The limits a gate may set; every one given must hold (or every one under {@code or}). */
    private static Param[] gateLimits() {
        return new Param[] {
                Param.number("min_cosine", -1, 1, null, "lowest acceptable mean output cosine to the original, the lowest of several outputs"),
                Param.number("min_cosine_worst", -1, 1, null, "lowest acceptable per-sample output cosine"),
                Param.number("max_accuracy_drop", 0, 100, null, "top-1 accuracy points the model may lose; needs labelled data"),
                Param.number("min_agreement", 0, 1, null, "lowest fraction of samples with the original's top-1 answer"),
                Param.number("max_latency_ratio", 0, 100, null, "compressed / original batch latency (p50), at most"),
                Param.number("min_compression_ratio", 0, 1000, null, "original / compressed file size, at least")};
    }

    private static Param gate() {
        List<Param> keys = new java.util.ArrayList<>(List.of(gateLimits()));
        keys.add(Param.object("or", "another set of limits; the gate also passes when all of these hold", gateLimits()));
        return Param.object("gate", "minimum quality the compressed model must keep; a run that misses it fails. Every limit "
                + "given must hold, or every limit under `or`", keys.toArray(Param[]::new));
    }

    public static final Map<String, Param> TUNING = params(
            Param.choice("on_gate_failure", "fail", "when a candidate misses its quality gate: fail the run, or tune - try "
                    + "gentler candidates by the strategy and end with the best (backoff: the older spelling of tune with "
                    + "strategy backoff)", "fail", "tune", "backoff"),
            Param.choice("strategy", "backoff", "backoff: one gentler setting at a time (lower ratio or sparsity, higher bit "
                    + "width, a calibration that clips less, SmoothQuant); fallback: more of the most sensitive nodes left in "
                    + "float (keep_float 1, 2, 4, ...); search: a grid over the first two axes, with the Pareto front of size "
                    + "against quality", "backoff", "fallback", "search"),
            Param.integer("max_attempts", 1, 50, 5L, "candidates in all when tuning, the recipe's own included"),
            Param.duration("time_budget", "30m", "wall-clock budget for the whole run; tuning starts no candidate past it"));

    /** Stage types of the design that no module provides yet. */
    public static final Set<String> PLANNED = Set.of();

    private static Map<String, Param> params(Param... params) {
        Map<String, Param> map = new LinkedHashMap<>();
        for (Param p : params) {
            map.put(p.name(), p);
        }
        return java.util.Collections.unmodifiableMap(map);
    }
}
