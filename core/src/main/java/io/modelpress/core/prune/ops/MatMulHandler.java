package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Kind;
import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.ArrayList;
import java.util.List;

/**
 * MatMul A[..., M, K] x B[..., K, N]. The contracted K axes are read together (a constant side is cut, two activations
 * are coupled); A's rows, B's columns and the broadcast batch axes (e.g. attention heads) pass to the output. A
 * constant 2-D weight opens new neurons on the output's last axis (or first-operand rows when A is the weight).
 */
final class MatMulHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        long[] da = c.inputDims(0);
        long[] db = c.inputDims(1);
        long[] dout = c.outputDims(0);
        Labels la = c.labels(0);
        Labels lb = c.labels(1);
        if (da == null || db == null || dout == null || da.length < 2 || db.length < 2) {
            c.freezeInputs(c.describe() + " has operands of unknown or vector shape");
            return;
        }
        int ra = da.length;
        int rb = db.length;
        int ro = dout.length;
        boolean aConst = c.isConstant(0);
        boolean bConst = c.isConstant(1);
        String fixed = c.describe() + " contracts the channels with a tensor that cannot shrink";

        boolean aOnK = la != null && la.axis() == ra - 1;
        boolean bOnK = lb != null && lb.axis() == rb - 2;
        if (aOnK && bOnK) {
            c.couple(la.ids(), lb.ids(), fixed);
        } else if (aOnK) {
            if (bConst) {
                c.cutReading(1, rb - 2, la.ids(), 0, la);
            } else {
                c.freeze(la, fixed);
            }
        } else if (bOnK) {
            if (aConst) {
                c.cutReading(0, ra - 1, lb.ids(), 1, lb);
            } else {
                c.freeze(lb, fixed);
            }
        }

        List<Labels> candidates = new ArrayList<>();
        boolean bBatchCoupled = false;
        if (la != null && !aOnK) {
            if (la.axis() == ra - 2) {
                candidates.add(new Labels(ro - 2, la.ids()));
            } else {
                int o = la.axis() + ro - ra;
                int ib = o - (ro - rb);
                if (ib >= 0 && ib < rb - 2 && db[ib] > 1) {
                    if (lb != null && lb.axis() == ib) {
                        c.couple(la.ids(), lb.ids(), fixed);
                        bBatchCoupled = true;
                    } else if (bConst) {
                        c.cut(1, ib, la.ids(), Role.OTHER);
                    } else {
                        c.freeze(la, c.describe() + " multiplies the channels with a tensor that cannot shrink");
                    }
                }
                candidates.add(new Labels(o, la.ids()));
            }
        }
        if (lb != null && !bOnK && !bBatchCoupled) {
            if (lb.axis() == rb - 1) {
                candidates.add(new Labels(ro - 1, lb.ids()));
            } else {
                int o = lb.axis() + ro - rb;
                int ia = o - (ro - ra);
                if (ia >= 0 && ia < ra - 2 && da[ia] > 1) {
                    if (aConst) {
                        c.cut(0, ia, lb.ids(), Role.OTHER);
                    } else {
                        c.freeze(lb, c.describe() + " multiplies the channels with a tensor that cannot shrink");
                    }
                }
                candidates.add(new Labels(o, lb.ids()));
            }
        }
        if (candidates.size() > 1) {
            for (Labels l : candidates) {
                c.freeze(l, c.describe() + " would carry pruned channels on two axes");
            }
            return;
        }
        if (candidates.size() == 1) {
            c.output(0, candidates.get(0));
            return;
        }
        if (bConst && rb == 2 && !aConst) {
            int[] ids = c.newChannels(0, ro - 1, (int) db[1], Kind.NEURONS);
            c.cut(1, 1, ids, Role.OUT);
        } else if (aConst && ra == 2 && !bConst) {
            int[] ids = c.newChannels(0, ro - 2, (int) da[0], Kind.NEURONS);
            c.cut(0, 0, ids, Role.OUT);
        }
    }
}
