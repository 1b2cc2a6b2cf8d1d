package io.modelpress.core.prune.graph;

import java.util.Arrays;

/**
 * Which channel each position along one axis of a value carries. {@code ids[j]} is a channel id (an element of the
 * {@link ChannelGraph}'s coupling sets), or {@link #NONE} where the position belongs to no prunable channel and always
 * stays. A value carries channels on at most one axis.
 */
public record Labels(int axis, int[] ids) {
    public static final int NONE = -1;

    public int size() {
        return ids.length;
    }

    /** The same channels on another axis (after a transpose, squeeze, ...). */
    public Labels onAxis(int newAxis) {
        return new Labels(newAxis, ids);
    }

    /** True when no position carries a channel. */
    public boolean isBlank() {
        for (int id : ids) {
            if (id != NONE) {
                return false;
            }
        }
        return true;
    }

    /** Positions that carry no channel, for a tensor that cannot shrink. */
    public static int[] none(int size) {
        int[] ids = new int[size];
        Arrays.fill(ids, NONE);
        return ids;
    }

    @Override
    public String toString() {
        return "axis " + axis + " x" + ids.length;
    }
}
