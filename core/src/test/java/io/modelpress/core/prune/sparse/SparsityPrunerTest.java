package io.modelpress.core.prune.sparse;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.convert.Float16Converter;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.sparse.SparsityOptions.Allocation;
import io.modelpress.core.prune.sparse.SparsityOptions.Scope;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.OrtOutputs;
import io.modelpress.core.testing.PrunableModels;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SparsityPrunerTest {
    /** The MatMul, Gemm and Conv weights of {@link PrunableModels#mixed}, and what must never change. */
    static final List<String> WEIGHTS = List.of("fc1", "fc2", "fc3", "conv1", "conv2");
    static final List<String> UNTOUCHED = List.of("ln_gamma", "ln_beta", "b1", "b2", "b3", "bc1");

    @TempDir
    Path dir;

    record Pruned(OnnxModel original, OnnxModel model, SparsityReport report, Path file) {
        float[] before(String tensor) {
            return original.floats(original.constant(tensor).orElseThrow());
        }

        float[] after(String tensor) {
            return model.floats(model.constant(tensor).orElseThrow());
        }
    }

    Pruned prune(SparsityOptions options, boolean constantNodes) {
        OnnxModel original = OnnxModel.of(PrunableModels.mixed(11, constantNodes));
        OnnxModel model = original.copy();
        SparsityReport report = SparsityPruner.prune(model, options);
        Path file = dir.resolve("pruned-" + System.nanoTime() + ".onnx");
        model.write(file);
        return new Pruned(original, model, report, file);
    }

    /** The pruned model runs in ONNX Runtime with the original's inputs and outputs, and nothing but weights changed. */
    void assertSameInterfaceAndRuns(Pruned p) {
        assertThat(p.model().inputs()).isEqualTo(p.original().inputs());
        assertThat(p.model().outputs()).isEqualTo(p.original().outputs());
        assertThat(p.model().graph().getNodeList()).isEqualTo(p.original().graph().getNodeList().stream()
                .map(n -> p.model().graph().getNodeList().stream().filter(m -> m.getName().equals(n.getName())).findFirst().orElseThrow())
                .toList());
        for (String t : UNTOUCHED) {
            assertThat(p.after(t)).as(t).containsExactly(p.before(t));
        }
        Path originalFile = dir.resolve("original-" + System.nanoTime() + ".onnx");
        p.original().write(originalFile);
        Map<String, float[]> expected = OrtOutputs.run(originalFile, PrunableModels.mixedFeeds(3, 5));
        Map<String, float[]> actual = OrtOutputs.run(p.file(), PrunableModels.mixedFeeds(3, 5));
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        expected.forEach((name, values) -> assertThat(actual.get(name)).as(name).hasSameSizeAs(values).doesNotContain(Float.NaN));
    }

    static long zeros(float[] values) {
        return countIf(values, v -> v == 0);
    }

    static long countIf(float[] values, java.util.function.DoublePredicate p) {
        long n = 0;
        for (float v : values) {
            if (p.test(v)) {
                n++;
            }
        }
        return n;
    }

    /** Every zeroed weight had no larger magnitude than any kept one of the same tensor. */
    static void assertSmallestWereZeroed(float[] before, float[] after) {
        double maxPruned = 0;
        double minKept = Double.POSITIVE_INFINITY;
        for (int i = 0; i < before.length; i++) {
            if (after[i] == 0) {
                maxPruned = Math.max(maxPruned, Math.abs(before[i]));
            } else {
                assertThat(after[i]).as("kept weights keep their value").isEqualTo(before[i]);
                minKept = Math.min(minKept, Math.abs(before[i]));
            }
        }
        assertThat(maxPruned).isLessThanOrEqualTo(minKept);
    }

    @ParameterizedTest(name = "ratio {0}, Constant nodes {1}")
    @CsvSource({"0.3, false", "0.5, true", "0.8, false", "0.95, true"})
    void perLayerMagnitudeZeroesRoundRatioOfEachLayer(double ratio, boolean constantNodes) {
        Pruned p = prune(SparsityOptions.magnitude(ratio), constantNodes);

        long total = 0;
        long zeros = 0;
        for (String w : WEIGHTS) {
            float[] before = p.before(w);
            float[] after = p.after(w);
            assertThat(zeros(before)).isZero();
            assertThat(zeros(after)).as("zeros of %s", w).isEqualTo(Math.round(ratio * before.length));
            assertSmallestWereZeroed(before, after);
            total += before.length;
            zeros += zeros(after);
        }
        assertThat(p.report().prunableElements()).isEqualTo(total);
        assertThat(p.report().zeros()).isEqualTo(zeros);
        assertThat(p.report().layers()).extracting(SparsityReport.Layer::tensor).containsExactlyElementsOf(WEIGHTS);
        assertThat(p.after("table")).as("embeddings are not pruned by default").containsExactly(p.before("table"));
        assertThat(SparsityRecord.read(p.model())).extracting(SparsityRecord.Entry::name).containsExactlyElementsOf(WEIGHTS);
        assertThat(SparsityRecord.read(OnnxModel.read(p.file()))).allSatisfy(e -> assertThat(e.pattern()).isEqualTo("unstructured"));
        assertSameInterfaceAndRuns(p);
        OnnxChecker.assertValid(p.file());
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"GLOBAL, UNIFORM", "PER_LAYER, UNIFORM", "GLOBAL, LAMP", "PER_LAYER, LAMP", "GLOBAL, ERK", "PER_LAYER, ERK"})
    void everyScopeAndAllocationHitsItsTarget(Scope scope, Allocation allocation) {
        double ratio = 0.7;
        Pruned p = prune(SparsityOptions.magnitude(ratio).withScope(scope).withAllocation(allocation), false);

        long total = 0;
        long zeros = 0;
        for (String w : WEIGHTS) {
            float[] before = p.before(w);
            float[] after = p.after(w);
            assertSmallestWereZeroed(before, after);
            assertThat(zeros(after)).as("%s keeps some weights", w).isLessThan(before.length);
            total += before.length;
            zeros += zeros(after);
        }
        if (scope == Scope.PER_LAYER && allocation == Allocation.UNIFORM) {
            // each layer rounds on its own: the total is within half a weight per layer of the target
            assertThat((double) zeros).isCloseTo(ratio * total, within(WEIGHTS.size() / 2.0));
        } else {
            assertThat(zeros).as("zeros over all pruned weights").isEqualTo(Math.round(ratio * total));
        }
        assertThat(p.report().sparsity()).isCloseTo(ratio, within(0.001));
        assertSameInterfaceAndRuns(p);
        OnnxChecker.assertValid(p.file());
    }

    @Test
    void globalMagnitudeZeroesTheSmallestWeightsOverAllLayers() {
        Pruned p = prune(SparsityOptions.magnitude(0.6).withScope(Scope.GLOBAL), false);

        double maxPruned = 0;
        double minKept = Double.POSITIVE_INFINITY;
        List<Double> layerSparsities = new ArrayList<>();
        for (String w : WEIGHTS) {
            float[] before = p.before(w);
            float[] after = p.after(w);
            for (int i = 0; i < before.length; i++) {
                if (after[i] == 0) {
                    maxPruned = Math.max(maxPruned, Math.abs(before[i]));
                } else {
                    minKept = Math.min(minKept, Math.abs(before[i]));
                }
            }
            layerSparsities.add((double) zeros(after) / after.length);
        }
        assertThat(maxPruned).isLessThanOrEqualTo(minKept);
        // the layers were drawn with different scales (0.2 and 0.3): one threshold prunes them unevenly
        assertThat(layerSparsities.stream().mapToDouble(Double::doubleValue).max().orElseThrow()
                - layerSparsities.stream().mapToDouble(Double::doubleValue).min().orElseThrow()).isGreaterThan(0.1);
    }

    @Test
    void lampCountsFollowAGlobalRankingOfLampScores() {
        double ratio = 0.75;
        Pruned p = prune(SparsityOptions.magnitude(ratio).withAllocation(Allocation.LAMP), false);

        // independent reference: every weight's LAMP score (w^2 over the sum of squares of the weights of its layer not
        // smaller than it), all layers' scores sorted together, the smallest round(ratio x total) pruned
        record Scored(double score, int layer) {
        }
        List<Scored> all = new ArrayList<>();
        for (int l = 0; l < WEIGHTS.size(); l++) {
            float[] w = p.before(WEIGHTS.get(l));
            double[] squares = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                squares[i] = (double) w[i] * w[i];
            }
            Arrays.sort(squares);
            for (int i = 0; i < squares.length; i++) {
                double tail = 0;
                for (int j = i; j < squares.length; j++) {
                    tail += squares[j];
                }
                all.add(new Scored(squares[i] / tail, l));
            }
        }
        all.sort((a, b) -> Double.compare(a.score(), b.score()));
        long[] expected = new long[WEIGHTS.size()];
        all.subList(0, (int) Math.round(ratio * all.size())).forEach(s -> expected[s.layer()]++);

        for (int l = 0; l < WEIGHTS.size(); l++) {
            assertThat(zeros(p.after(WEIGHTS.get(l)))).as("zeros of %s", WEIGHTS.get(l)).isEqualTo(expected[l]);
        }
        assertThat(p.report().notes().get("allocation")).startsWith("lamp");
    }

    @Test
    void erkDensitiesFollowTheErdosRenyiKernelFormula() {
        double ratio = 0.8;
        Pruned p = prune(SparsityOptions.magnitude(ratio).withAllocation(Allocation.ERK), false);

        Map<String, long[]> shapes = Map.of("fc1", new long[] {32, 64}, "fc2", new long[] {48, 64}, "fc3", new long[] {48, 24},
                "conv1", new long[] {16, 3, 3, 3}, "conv2", new long[] {8, 16, 3, 3});
        Map<String, Double> densityOverErk = new LinkedHashMap<>();
        for (String w : WEIGHTS) {
            long[] dims = shapes.get(w);
            double erk = (double) Arrays.stream(dims).sum() / Arrays.stream(dims).reduce(1, (a, b) -> a * b);
            float[] after = p.after(w);
            double density = 1 - (double) zeros(after) / after.length;
            if (density < 1) {
                densityOverErk.put(w, density / erk);
            }
        }
        // every layer not kept dense gets the same density / ERK factor, up to rounding to whole weights
        assertThat(densityOverErk).hasSizeGreaterThanOrEqualTo(3);
        double first = densityOverErk.values().iterator().next();
        densityOverErk.forEach((w, factor) -> assertThat(factor).as(w).isCloseTo(first, within(first * 0.01)));
        // the small conv1 (432 weights, large sum/product) is denser than the large fc2 (3072)
        assertThat(zeros(p.after("conv1")) / 432.0).isLessThan(zeros(p.after("fc2")) / 3072.0);
    }

    @ParameterizedTest(name = "{0}:{1}")
    @CsvSource({"2, 4", "1, 4", "4, 8"})
    void nOfMKeepsNOfEveryMConsecutiveWeightsAlongTheReductionAxis(int n, int m) {
        Pruned p = prune(SparsityOptions.nOfM(n, m), false);

        // reduction axes: MatMul [K, N] and Gemm [K, N] along K (stride N), Gemm transB [N, K] along K (contiguous),
        // Conv [M, C, kh, kw] along C x kh x kw (contiguous per output channel)
        assertGroups(p, "fc1", 64, 32, 1, 64, n, m);
        assertGroups(p, "fc2", 48, 64, 64, 1, n, m);
        assertGroups(p, "fc3", 24, 48, 1, 24, n, m);
        assertGroups(p, "conv2", 8, 144, 144, 1, n, m);
        if (27 % m != 0) {
            assertThat(p.after("conv1")).containsExactly(p.before("conv1"));
            assertThat(p.report().skipped()).anySatisfy(s -> {
                assertThat(s.tensor()).isEqualTo("conv1");
                assertThat(s.reason()).contains("reduction length 27 is not a multiple of m = " + m);
            });
        }
        SparsityRecord.Entry fc2 = SparsityRecord.read(p.model()).stream().filter(e -> e.name().equals("fc2")).findFirst().orElseThrow();
        assertThat(fc2.pattern()).isEqualTo("n:m");
        assertThat(fc2.n()).isEqualTo(n);
        assertThat(fc2.m()).isEqualTo(m);
        assertThat(fc2.reductionAxes()).containsExactly(1);
        assertThat(SparsityRecord.read(p.model()).stream().filter(e -> e.name().equals("conv2")).findFirst().orElseThrow()
                .reductionAxes()).containsExactly(1, 2, 3);
        assertSameInterfaceAndRuns(p);
        OnnxChecker.assertValid(p.file());
    }

    /**
     * Checks every group of m along the reduction axis: exactly m - n zeros (the weights are random, none zero before),
     * the kept ones the n largest of the group. Element j of line o: o * lineStride + j * step.
     */
    static void assertGroups(Pruned p, String tensor, int lines, int length, int lineStride, int step, int n, int m) {
        float[] before = p.before(tensor);
        float[] after = p.after(tensor);
        int groups = 0;
        for (int o = 0; o < lines; o++) {
            for (int start = 0; start < length; start += m) {
                float maxDropped = 0;
                float minKept = Float.POSITIVE_INFINITY;
                int kept = 0;
                for (int j = start; j < start + m; j++) {
                    int i = o * lineStride + j * step;
                    if (after[i] == 0) {
                        maxDropped = Math.max(maxDropped, Math.abs(before[i]));
                    } else {
                        assertThat(after[i]).isEqualTo(before[i]);
                        minKept = Math.min(minKept, Math.abs(before[i]));
                        kept++;
                    }
                }
                assertThat(kept).as("nonzeros in group %d of line %d of %s", start / m, o, tensor).isEqualTo(n);
                assertThat(maxDropped).isLessThanOrEqualTo(minKept);
                groups++;
            }
        }
        assertThat(groups * m).isEqualTo(before.length);
        assertThat(zeros(after)).isEqualTo((long) before.length * (m - n) / m);
    }

    @ParameterizedTest(name = "block {0}x{1}, ratio {2}, {3}")
    @CsvSource({"4, 4, 0.5, PER_LAYER", "2, 8, 0.3, PER_LAYER", "4, 4, 0.5, GLOBAL", "3, 5, 0.6, PER_LAYER"})
    void blockPatternZeroesWholeBlocksOfLeastNorm(int rows, int cols, double ratio, Scope scope) {
        Pruned p = prune(SparsityOptions.block(rows, cols, ratio).withScope(scope), false);

        Map<String, int[]> matrices = Map.of("fc1", new int[] {32, 64}, "fc2", new int[] {48, 64}, "fc3", new int[] {48, 24},
                "conv1", new int[] {16, 27}, "conv2", new int[] {8, 144});
        long blocks = 0;
        long zeroBlocks = 0;
        for (String w : WEIGHTS) {
            int[] shape = matrices.get(w);
            float[] before = p.before(w);
            float[] after = p.after(w);
            int down = (shape[0] + rows - 1) / rows;
            int across = (shape[1] + cols - 1) / cols;
            double maxZeroed = 0;
            double minKept = Double.POSITIVE_INFINITY;
            int zeroed = 0;
            for (int b = 0; b < down * across; b++) {
                int r0 = (b / across) * rows;
                int c0 = (b % across) * cols;
                int cells = 0;
                int zeroCells = 0;
                double squares = 0;
                for (int r = r0; r < Math.min(r0 + rows, shape[0]); r++) {
                    for (int c = c0; c < Math.min(c0 + cols, shape[1]); c++) {
                        int i = r * shape[1] + c;
                        cells++;
                        squares += (double) before[i] * before[i];
                        if (after[i] == 0) {
                            zeroCells++;
                        } else {
                            assertThat(after[i]).isEqualTo(before[i]);
                        }
                    }
                }
                assertThat(zeroCells).as("block %d of %s is all zero or untouched", b, w).isIn(0, cells);
                double meanSquare = squares / cells;
                if (zeroCells == cells) {
                    zeroed++;
                    maxZeroed = Math.max(maxZeroed, meanSquare);
                } else {
                    minKept = Math.min(minKept, meanSquare);
                }
            }
            assertThat(maxZeroed).isLessThanOrEqualTo(minKept);
            if (scope == Scope.PER_LAYER) {
                assertThat((long) zeroed).as("zero blocks of %s", w).isEqualTo(Math.round(ratio * down * across));
            }
            blocks += (long) down * across;
            zeroBlocks += zeroed;
        }
        if (scope == Scope.GLOBAL) {
            assertThat(zeroBlocks).isEqualTo(Math.round(ratio * blocks));
        }
        SparsityRecord.Entry conv2 = SparsityRecord.read(p.model()).stream().filter(e -> e.name().equals("conv2")).findFirst().orElseThrow();
        assertThat(conv2.block()).containsExactly(rows, cols);
        assertThat(conv2.rowAxes()).containsExactly(0);
        assertThat(conv2.colAxes()).containsExactly(1, 2, 3);
        assertSameInterfaceAndRuns(p);
        OnnxChecker.assertValid(p.file());
    }

    @Test
    void embeddingTablesArePrunedOnlyWhenAsked() {
        Pruned p = prune(SparsityOptions.magnitude(0.5).withEmbeddings(true), true);

        assertThat(zeros(p.after("table"))).isEqualTo(800);
        assertThat(p.report().layers()).extracting(SparsityReport.Layer::tensor).contains("table");
        assertThat(p.report().toJson().get("embeddings").asBoolean()).isTrue();
        assertSameInterfaceAndRuns(p);

        Pruned nm = prune(SparsityOptions.nOfM(2, 4).withEmbeddings(true), false);
        assertThat(nm.after("table")).containsExactly(nm.before("table"));
        assertThat(nm.report().skipped()).anySatisfy(s -> assertThat(s.reason()).contains("no reduction axis"));
    }

    @Test
    void includeAndExcludeChooseTheNodes() {
        NodeSelector onlyGemms = new NodeSelector(List.of(), List.of("Gemm"), List.of(), List.of("fc3_gemm"), List.of(), List.of());
        Pruned p = prune(SparsityOptions.magnitude(0.5).withSelector(onlyGemms), false);

        assertThat(p.report().layers()).extracting(SparsityReport.Layer::tensor).containsExactly("fc2");
        for (String untouched : List.of("fc1", "fc3", "conv1", "conv2")) {
            assertThat(p.after(untouched)).as(untouched).containsExactly(p.before(untouched));
        }
        assertThat(p.report().skipped()).filteredOn(s -> s.tensor().equals("fc3")).singleElement()
                .satisfies(s -> assertThat(s.reason()).isEqualTo("excluded by the recipe"));
        assertThat(p.report().skipped()).filteredOn(s -> s.tensor().equals("fc1")).singleElement()
                .satisfies(s -> assertThat(s.reason()).isEqualTo("not in the recipe's include list"));

        NodeSelector byPattern = new NodeSelector(List.of(), List.of(), List.of(Pattern.compile("conv.*")), List.of(), List.of(), List.of());
        Pruned convs = prune(SparsityOptions.magnitude(0.5).withSelector(byPattern), false);
        assertThat(convs.report().layers()).extracting(SparsityReport.Layer::tensor).containsExactly("conv1", "conv2");
    }

    @Test
    void tiedWeightsArePrunedOnceAndWeightsAlsoReadElsewhereAreLeftAlone() {
        OnnxModel original = OnnxModel.of(PrunableModels.tied(3));
        OnnxModel model = original.copy();
        SparsityReport report = SparsityPruner.prune(model, SparsityOptions.magnitude(0.5));

        assertThat(report.layers()).singleElement().satisfies(l -> {
            assertThat(l.tensor()).isEqualTo("tied");
            assertThat(l.nodes()).containsExactly("mm_a", "mm_b");
            assertThat(l.zeros()).isEqualTo(128);
        });
        assertThat(model.floats(model.constant("shared").orElseThrow())).containsExactly(original.floats(original.constant("shared").orElseThrow()));
        assertThat(report.skipped()).singleElement().satisfies(s -> {
            assertThat(s.node()).isEqualTo("mm_c");
            assertThat(s.reason()).isEqualTo("'shared' is also read by Transpose node 'transpose'");
        });
    }

    @Test
    void aModelWithoutPrunableWeightsIsAClearError() {
        OnnxModel model = OnnxModel.of(PrunableModels.tied(3));
        NodeSelector none = new NodeSelector(List.of(), List.of(), List.of(), List.of(), List.of("MatMul"), List.of());
        assertThatThrownBy(() -> SparsityPruner.prune(model, SparsityOptions.magnitude(0.5).withSelector(none)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPERATOR);
                    assertThat(e.getMessage()).isEqualTo("model: has no weights this pass can prune (constant float weights of "
                            + "selected MatMul, Gemm or Conv nodes; 3 skipped, first: excluded by the recipe)");
                });
    }

    @Test
    void badOptionsAreRejectedWithAClearMessage() {
        assertThatThrownBy(() -> SparsityOptions.magnitude(1.0)).isInstanceOfSatisfying(ModelPressException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
            assertThat(e.getMessage()).isEqualTo("sparsity options: ratio must be at least 0 and below 1, found 1.0");
        });
        assertThatThrownBy(() -> SparsityOptions.nOfM(4, 4)).hasMessageContaining("n:m needs 1 <= n < m");
        assertThatThrownBy(() -> SparsityOptions.block(0, 4, 0.5)).hasMessageContaining("block sides must be from 1");
        assertThatThrownBy(() -> SparsityOptions.nOfM(2, 4).withAllocation(Allocation.LAMP))
                .hasMessageContaining("allocation: lamp applies only to method: magnitude");

        StageSpec unknownMethod = new StageSpec(0, "prune", Map.of("method", "random"));
        assertThatThrownBy(() -> SparsityOptions.from(unknownMethod)).isInstanceOfSatisfying(ModelPressException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
            assertThat(e.getMessage()).isEqualTo("01-prune: method: expected one of [magnitude, n:m, block], found 'random'");
        });
        assertThatThrownBy(() -> SparsityOptions.from(new StageSpec(0, "prune", Map.of("method", "block"))))
                .hasMessage("01-prune: method: block needs block: [rows, cols]");
        assertThatThrownBy(() -> SparsityOptions.from(new StageSpec(0, "prune", Map.of("method", "block", "block", List.of("4")))))
                .hasMessage("01-prune: block: expected [rows, cols] as two integers, found [4]");
    }

    @Test
    void optionsComeFromARecipeStage() {
        SparsityOptions magnitude = SparsityOptions.from(new StageSpec(0, "prune", Map.of("method", "magnitude", "ratio", 0.8,
                "scope", "global", "allocation", "lamp", "embeddings", true,
                "exclude", Map.of("nodes", List.of("fc1_matmul")))));
        assertThat(magnitude.method()).isEqualTo(SparsityOptions.Method.MAGNITUDE);
        assertThat(magnitude.ratio()).isEqualTo(0.8);
        assertThat(magnitude.scope()).isEqualTo(Scope.GLOBAL);
        assertThat(magnitude.allocation()).isEqualTo(Allocation.LAMP);
        assertThat(magnitude.embeddings()).isTrue();
        assertThat(magnitude.selector().excludeNames()).containsExactly("fc1_matmul");

        SparsityOptions nm = SparsityOptions.from(new StageSpec(0, "prune", Map.of("method", "n:m")));
        assertThat(nm.n()).isEqualTo(2);
        assertThat(nm.m()).isEqualTo(4);

        SparsityOptions block = SparsityOptions.from(new StageSpec(0, "prune", Map.of("method", "block", "block", List.of(4L, 8L), "ratio", 0.5)));
        assertThat(block.blockRows()).isEqualTo(4);
        assertThat(block.blockCols()).isEqualTo(8);
    }

    @Test
    void theReportGivesCountsSizesAndWhatChanged() {
        Pruned p = prune(SparsityOptions.magnitude(0.9).withScope(Scope.GLOBAL), false);
        ObjectNode json = p.report().toJson();

        assertThat(json.get("method").asText()).isEqualTo("magnitude");
        assertThat(json.get("scope").asText()).isEqualTo("global");
        assertThat(json.get("allocation").asText()).isEqualTo("uniform");
        assertThat(json.get("zeros").asLong()).isEqualTo(Math.round(0.9 * (2048 + 3072 + 1152 + 432 + 1152)));
        assertThat(json.get("before").get("parameters").asLong()).isEqualTo(json.get("after").get("parameters").asLong());
        assertThat(json.get("before").get("macs").asLong()).as("dense kernels: MACs unchanged")
                .isEqualTo(json.get("after").get("macs").asLong()).isPositive();
        assertThat(json.get("after").get("gzip_bytes").asLong()).isLessThan(json.get("before").get("gzip_bytes").asLong() / 2);
        assertThat(json.get("speed").asText()).contains("no faster");
        assertThat(json.get("mask_metadata_key").asText()).isEqualTo(SparsityRecord.METADATA_KEY);
        assertThat(json.get("layers")).hasSize(5);
        assertThat(json.get("layers").get(0).get("sparsity").asDouble()).isBetween(0.0, 1.0);
        assertThat(json.get("layers").get(0).get("shape").toString()).isEqualTo("[32,64]");
    }

    @Test
    void theMaskRecordMergesAcrossPassesAndSurvivesAWrite() {
        OnnxModel model = OnnxModel.of(PrunableModels.mixed(11, false));
        NodeSelector fc1 = new NodeSelector(List.of("fc1_matmul"), List.of(), List.of(), List.of(), List.of(), List.of());
        NodeSelector fc2 = new NodeSelector(List.of("fc2_gemm", "fc1_matmul"), List.of(), List.of(), List.of(), List.of(), List.of());
        SparsityPruner.prune(model, SparsityOptions.block(4, 4, 0.5).withSelector(fc1));
        SparsityPruner.prune(model, SparsityOptions.nOfM(2, 4).withSelector(fc2));
        Path file = dir.resolve("twice.onnx");
        model.write(file);

        List<SparsityRecord.Entry> entries = SparsityRecord.read(OnnxModel.read(file));
        assertThat(entries).extracting(SparsityRecord.Entry::name).containsExactly("fc1", "fc2");
        assertThat(entries).extracting(SparsityRecord.Entry::pattern).containsExactly("n:m", "n:m");
        assertThat(entries.get(0).shape()).containsExactly(32L, 64L);
        assertThat(model.proto().getMetadataPropsList()).filteredOn(p -> p.getKey().equals(SparsityRecord.METADATA_KEY)).hasSize(1);
    }

    @Test
    void existingZerosCountTowardsTheRatio() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(16, 32, 8, false, 4));
        SparsityPruner.prune(model, SparsityOptions.magnitude(0.25));
        SparsityReport again = SparsityPruner.prune(model, SparsityOptions.magnitude(0.5));

        assertThat(again.layers()).allSatisfy(l -> {
            assertThat(l.zerosBefore()).isEqualTo(Math.round(0.25 * l.elements()));
            assertThat(l.zeros()).isEqualTo(Math.round(0.5 * l.elements()));
        });
    }

    @Test
    void float16WeightsKeepTheirTypeAndGetThePattern() {
        OnnxModel original = OnnxModel.of(PrunableModels.mixed(11, false));
        Float16Converter.convert(original, Float16Converter.Options.DEFAULT);
        assertThat(DataType.of(original.constant("fc1").orElseThrow())).isEqualTo(DataType.FLOAT16);
        OnnxModel model = original.copy();
        SparsityReport report = SparsityPruner.prune(model, SparsityOptions.nOfM(2, 4));
        Path file = dir.resolve("fp16-2-4.onnx");
        model.write(file);
        Pruned p = new Pruned(original, model, report, file);

        assertThat(DataType.of(model.constant("fc1").orElseThrow())).isEqualTo(DataType.FLOAT16);
        assertGroups(p, "fc1", 64, 32, 1, 64, 2, 4);
        assertGroups(p, "fc2", 48, 64, 64, 1, 2, 4);
        assertThat(OrtOutputs.run(file, PrunableModels.mixedFeeds(2, 1)).get("y")).hasSize(2 * 24).doesNotContain(Float.NaN);
        OnnxChecker.assertValid(file);
    }
}
