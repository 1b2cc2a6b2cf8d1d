package io.modelpress.core.lowrank;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.graph.PassReport;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a low-rank pass did node by node, and what the model costs before and after - for report.json and the CLI. */
public final class LowRankReport extends PassReport {
    /**
     * One factorized node: W [k x n] replaced by [k x rank] then [rank x n].
     *
     * @param retainedEnergy fraction of W's squared singular values the rank keeps
     * @param relativeError  ||W - W_r|| / ||W|| (Frobenius) = sqrt(1 - retainedEnergy)
     */
    public record Factorized(String node, String op, String weight, long k, long n, int rank, double retainedEnergy,
                             double relativeError) {
        /** MACs per row of input before: k n. */
        public long macsPerRowBefore() {
            return k * n;
        }

        /** MACs per row of input after: rank (k + n). */
        public long macsPerRowAfter() {
            return rank * (k + n);
        }
    }

    public record Skipped(String node, String op, String weight, String reason) {
    }

    private final LowRankOptions options;
    private final List<Factorized> factorized = new ArrayList<>();
    private final List<Skipped> skipped = new ArrayList<>();

    LowRankReport(LowRankOptions options) {
        this.options = options;
    }

    void factorized(Factorized entry) {
        factorized.add(entry);
    }

    void skipped(Skipped entry) {
        skipped.add(entry);
    }

    public List<Factorized> factorized() {
        return Collections.unmodifiableList(factorized);
    }

    public List<Skipped> skipped() {
        return Collections.unmodifiableList(skipped);
    }

    @Override
    public long changedCount() {
        return factorized.size();
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = newJson();
        options.rankRatio().ifPresent(r -> json.put("rank_ratio", r));
        options.energy().ifPresent(e -> json.put("energy", e));
        json.put("factorized_nodes", factorized.size());
        json.put("skipped_nodes", skipped.size());
        putFootprints(json);
        ArrayNode nodes = json.putArray("nodes");
        for (Factorized f : factorized) {
            ObjectNode n = nodes.addObject();
            n.put("node", f.node());
            n.put("op", f.op());
            n.put("weight", f.weight());
            n.putArray("shape").add(f.k()).add(f.n());
            n.put("rank", f.rank());
            n.put("retained_energy", f.retainedEnergy());
            n.put("relative_error", f.relativeError());
            n.put("macs_per_row_before", f.macsPerRowBefore());
            n.put("macs_per_row_after", f.macsPerRowAfter());
        }
        ArrayNode skippedNodes = json.putArray("skipped");
        for (Skipped s : skipped) {
            ObjectNode n = skippedNodes.addObject();
            n.put("node", s.node());
            n.put("op", s.op());
            n.put("weight", s.weight());
            n.put("reason", s.reason());
        }
        return json;
    }
}
