package io.modelpress.core.prune;

import ai.onnx.proto.OnnxMl.ModelProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.ValueShapes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ShapeInference;
import io.modelpress.core.prune.StructuredOptions.Scope;
import io.modelpress.core.prune.graph.ChannelAnalysis;
import io.modelpress.core.prune.graph.ChannelCut;
import io.modelpress.core.prune.graph.ChannelGraph.Kind;
import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.importance.Criteria;
import io.modelpress.core.prune.importance.Importance;
import io.modelpress.core.prune.importance.ImportanceProvider;
import io.modelpress.core.prune.ops.OpHandlers;
import io.modelpress.core.stats.ModelFootprint;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Structured pruning of an ONNX graph: whole Conv filters, Gemm/MatMul neurons and attention heads are removed and
 * every tensor that depended on them shrinks with them, so the result is a smaller dense model that runs faster -
 * not a model with zeros in it. The channel dependency graph ({@link ChannelAnalysis}) says which channels go
 * together; an importance criterion ranks them; {@link ChannelCut} cuts. Groups the analysis cannot follow are left
 * whole, and the report says why. The pruned model is run once in ONNX Runtime before it is accepted (a failure
 * there would be a bug: the model is restored and an INTERNAL error raised).
 */
public final class StructuredPruner {
    private StructuredPruner() {
    }

    /**
     * Prunes the model in place.
     *
     * @param data sample inputs; needed only by the data-driven criteria (activation, taylor)
     */
    public static PruneReport prune(OnnxModel model, StructuredOptions options, CalibrationData data) {
        ImportanceProvider criterion = Criteria.get(options.criterion());
        if (criterion.needsData() && data.isEmpty()) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "criterion " + criterion.name(), "needs sample data (--data) to rank channels on");
        }
        PruneReport report = new PruneReport("structured");
        report.note("criterion", criterion.name());
        report.note("scope", options.scope().label());
        report.note("round_to", Integer.toString(options.roundTo()));
        report.footprints(ModelFootprint.withoutGzip(model), null);

        ShapeInference.Shapes shapes;
        try {
            shapes = ValueShapes.infer(model);
        } catch (ModelPressException e) {
            report.note("unchanged", "shapes could not be learnt by running the model: " + e.getMessage());
            report.footprints(report.before(), report.before());
            return report;
        }
        if (!shapes.assumedDims().isEmpty()) {
            report.note("analysis_dims", shapes.assumedDims().toString());
        }
        ChannelGraph graph = ChannelAnalysis.analyze(model, shapes.shapes(), OpHandlers.standard(), options.selector());
        Importance importance = criterion.create(new ImportanceProvider.Context(model, graph, data, options.samples(), 1));

        Selection selection = select(graph, options, importance);
        Map<ChannelGraph.Group, List<Integer>> removed = selection.removed();
        Set<Integer> classes = new HashSet<>();
        removed.values().forEach(classes::addAll);
        if (!classes.isEmpty()) {
            ModelProto original = model.build();
            List<ChannelCut.Record> records = List.of();
            String failure;
            try {
                records = ChannelCut.apply(model, graph, classes);
                failure = ValueShapes.mismatch(model, shapes);
            } catch (RuntimeException e) {
                failure = e.toString();
            }
            if (failure != null) {
                model.proto().clear().mergeFrom(original);
                throw new ModelPressException(ErrorCode.INTERNAL, "structured pruning", "the pruned model failed its check in ONNX Runtime ("
                        + failure + "); the model is left unchanged");
            }
            records.forEach(r -> report.add(new PruneReport.Cut(r.node(), r.opType(), r.tensor(), r.axis(), r.before(), r.after())));
        }
        for (ChannelGraph.Group group : graph.groups()) {
            List<Integer> gone = removed.getOrDefault(group, List.of());
            String reason = gone.isEmpty() ? selection.reasons().getOrDefault(group.index(), "nothing to remove") : null;
            report.add(new PruneReport.Group(group.index(), group.kind().label(), group.sources(), group.width(), group.unit(), gone.size(), reason));
        }
        report.footprints(report.before(), report.changed() ? ModelFootprint.withoutGzip(model) : report.before());
        return report;
    }

    /** The classes each group loses, and why the others stay whole (by group index). */
    private record Selection(Map<ChannelGraph.Group, List<Integer>> removed, Map<Integer, String> reasons) {
    }

    static double ratioFor(Kind kind, StructuredOptions options) {
        if (kind == Kind.HEADS && options.heads() != null) {
            return options.heads();
        }
        if (kind == Kind.NEURONS && options.ffn() != null) {
            return options.ffn();
        }
        return options.ratio();
    }

    /** Classes a kept width must be a multiple of, so that kept channels (classes x unit) are a multiple of round_to. */
    static int step(ChannelGraph.Group group, int roundTo) {
        return roundTo / gcd(roundTo, group.unit());
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** The kept width nearest to {@code target} that is a multiple of {@code step}, at least one step, at most all. */
    static int roundKeep(double target, int step, int width) {
        if (width <= step) {
            return width;
        }
        long keep = Math.round(target / step) * step;
        return (int) Math.min(width, Math.max(step, keep));
    }

    private static Selection select(ChannelGraph graph, StructuredOptions options, Importance importance) {
        Map<ChannelGraph.Group, List<Integer>> removed = new LinkedHashMap<>();
        Map<Integer, String> reasons = new HashMap<>();
        Map<String, List<ChannelGraph.Group>> pools = new LinkedHashMap<>();
        for (ChannelGraph.Group group : graph.groups()) {
            double ratio = ratioFor(group.kind(), options);
            int step = step(group, options.roundTo());
            if (group.frozen()) {
                reasons.put(group.index(), frozenReason(group));
            } else if (ratio == 0) {
                reasons.put(group.index(), "ratio 0");
            } else if (group.width() <= step) {
                reasons.put(group.index(), group.width() + " " + group.kind().label() + " are not more than round_to allows to keep");
            } else {
                String pool = options.scope() == Scope.GLOBAL ? ratioKey(group.kind(), options) : "group " + group.index();
                pools.computeIfAbsent(pool, k -> new ArrayList<>()).add(group);
            }
        }
        Set<Integer> candidates = new HashSet<>();
        pools.values().forEach(pool -> pool.forEach(g -> candidates.addAll(g.classes())));
        RemovalFloors floors = new RemovalFloors(graph, candidates, options.roundTo());
        for (List<ChannelGraph.Group> pool : pools.values()) {
            Map<ChannelGraph.Group, double[]> scores = new LinkedHashMap<>();
            for (ChannelGraph.Group g : pool) {
                scores.put(g, importance.score(g));
            }
            Map<ChannelGraph.Group, Integer> removeCounts = options.scope() == Scope.GLOBAL
                    ? globalCounts(pool, scores, options) : perLayerCounts(pool, options);
            for (ChannelGraph.Group g : pool) {
                int count = removeCounts.getOrDefault(g, 0);
                double[] s = scores.get(g);
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < s.length; i++) {
                    order.add(i);
                }
                order.sort(Comparator.comparingDouble((Integer i) -> s[i]).thenComparingInt(i -> i));
                List<Integer> classes = new ArrayList<>();
                for (int i = 0; i < order.size() && classes.size() < count; i++) {
                    int cls = g.classes().get(order.get(i));
                    if (floors.tryRemove(cls)) {
                        classes.add(cls);
                    }
                }
                if (classes.isEmpty()) {
                    reasons.put(g.index(), count <= 0 ? "rounding to round_to " + options.roundTo() + " keeps all " + g.width()
                            : "every channel is needed to keep each source at round_to " + options.roundTo() + " channels");
                } else {
                    removed.put(g, classes);
                }
            }
        }
        return new Selection(removed, reasons);
    }

    /** Which option's ratio applies to a kind: groups sharing it are pooled under global scope. */
    private static String ratioKey(Kind kind, StructuredOptions options) {
        if (kind == Kind.HEADS && options.heads() != null) {
            return "heads";
        }
        return kind == Kind.NEURONS && options.ffn() != null ? "ffn" : "ratio";
    }

    private static Map<ChannelGraph.Group, Integer> perLayerCounts(List<ChannelGraph.Group> pool, StructuredOptions options) {
        Map<ChannelGraph.Group, Integer> counts = new HashMap<>();
        for (ChannelGraph.Group g : pool) {
            double keep = g.width() * (1 - ratioFor(g.kind(), options));
            counts.put(g, g.width() - roundKeep(keep, step(g, options.roundTo()), g.width()));
        }
        return counts;
    }

    /**
     * Global scope: every class of the pool ranked together by its score relative to its group's mean; the lowest go
     * until the pool has lost its ratio, no group going below one rounding step; each group's count is then rounded.
     */
    private static Map<ChannelGraph.Group, Integer> globalCounts(List<ChannelGraph.Group> pool, Map<ChannelGraph.Group, double[]> scores,
                                                                StructuredOptions options) {
        record Candidate(ChannelGraph.Group group, double score) {
        }
        List<Candidate> all = new ArrayList<>();
        int total = 0;
        for (ChannelGraph.Group g : pool) {
            double[] s = scores.get(g);
            double mean = 0;
            for (double v : s) {
                mean += v / s.length;
            }
            for (double v : s) {
                all.add(new Candidate(g, mean > 0 ? v / mean : 0));
            }
            total += g.width();
        }
        all.sort(Comparator.comparingDouble(Candidate::score));
        double ratio = ratioFor(pool.get(0).kind(), options);
        int target = (int) Math.round(total * ratio);
        Map<ChannelGraph.Group, Integer> counts = new HashMap<>();
        int taken = 0;
        for (Candidate c : all) {
            if (taken >= target) {
                break;
            }
            int already = counts.getOrDefault(c.group(), 0);
            if (c.group().width() - already > step(c.group(), options.roundTo())) {
                counts.put(c.group(), already + 1);
                taken++;
            }
        }
        Map<ChannelGraph.Group, Integer> rounded = new HashMap<>();
        counts.forEach((g, n) -> rounded.put(g, g.width() - roundKeep(g.width() - n, step(g, options.roundTo()), g.width())));
        return rounded;
    }

    private static String frozenReason(ChannelGraph.Group group) {
        List<String> reasons = group.frozenReasons();
        String first = String.join("; ", reasons.subList(0, Math.min(3, reasons.size())));
        return "frozen: " + first + (reasons.size() > 3 ? "; and " + (reasons.size() - 3) + " more" : "");
    }
}
