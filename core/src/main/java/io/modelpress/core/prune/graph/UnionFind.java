package io.modelpress.core.prune.graph;

import java.util.Arrays;

/** Disjoint sets over the ints 0..n-1, growing on demand (path halving, union by size). */
final class UnionFind {
    private int[] parent = new int[64];
    private int[] size = new int[64];
    private int count;

    /** Adds {@code n} singleton elements and returns the first one. */
    int add(int n) {
        int first = count;
        if (count + n > parent.length) {
            int capacity = Math.max(parent.length * 2, count + n);
            parent = Arrays.copyOf(parent, capacity);
            size = Arrays.copyOf(size, capacity);
        }
        for (int i = 0; i < n; i++) {
            parent[count] = count;
            size[count] = 1;
            count++;
        }
        return first;
    }

    int count() {
        return count;
    }

    int find(int x) {
        while (parent[x] != x) {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        return x;
    }

    /** Joins the sets of a and b; returns the new root. */
    int union(int a, int b) {
        int ra = find(a);
        int rb = find(b);
        if (ra == rb) {
            return ra;
        }
        if (size[ra] < size[rb]) {
            int t = ra;
            ra = rb;
            rb = t;
        }
        parent[rb] = ra;
        size[ra] += size[rb];
        return ra;
    }
}
