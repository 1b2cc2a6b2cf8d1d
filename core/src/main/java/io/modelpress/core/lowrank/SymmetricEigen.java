package io.modelpress.core.lowrank;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

/**
 * Eigen-decomposition of a real symmetric matrix, A = V diag(values) V^T, in double precision: Householder reduction
 * to tridiagonal form, then the implicit QL algorithm (EISPACK's tred2 and tql2, as in the public-domain JAMA
 * package). O(n^3); a 1536 x 1536 matrix takes a few seconds, 384 x 384 a few tens of milliseconds.
 */
final class SymmetricEigen {
    /** Eigenvalues, largest first. */
    final double[] values;
    /** Eigenvectors as columns: {@code vectors[i][j]} is element i of the vector of {@code values[j]}. */
    final double[][] vectors;

    private SymmetricEigen(double[] values, double[][] vectors) {
        this.values = values;
        this.vectors = vectors;
    }

    /** Decomposes {@code a} (only read; must be symmetric). */
    static SymmetricEigen of(double[][] a) {
        int n = a.length;
        double[][] v = new double[n][];
        for (int i = 0; i < n; i++) {
            v[i] = a[i].clone();
        }
        double[] d = new double[n];
        double[] e = new double[n];
        double[][] columns = new double[n][n];
        if (n > 0) {
            tridiagonalize(v, d, e);
            // the QL rotations combine pairs of columns: hold them as rows so that each rotation reads memory in order
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    columns[j][i] = v[i][j];
                }
            }
            diagonalize(columns, d, e);
        }
        // ascending from the QL step: reverse to largest first
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int j = 0; j < n; j++) {
            values[j] = d[n - 1 - j];
            double[] column = columns[n - 1 - j];
            for (int i = 0; i < n; i++) {
                vectors[i][j] = column[i];
            }
        }
        return new SymmetricEigen(values, vectors);
    }

    /** Householder reduction: on return d is the diagonal, e the subdiagonal (e[0] = 0), v the accumulated transform. */
    private static void tridiagonalize(double[][] v, double[] d, double[] e) {
        int n = v.length;
        for (int j = 0; j < n; j++) {
            d[j] = v[n - 1][j];
        }
        for (int i = n - 1; i > 0; i--) {
            double scale = 0.0;
            double h = 0.0;
            for (int k = 0; k < i; k++) {
                scale += Math.abs(d[k]);
            }
            if (scale == 0.0) {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++) {
                    d[j] = v[i - 1][j];
                    v[i][j] = 0.0;
                    v[j][i] = 0.0;
                }
            } else {
                for (int k = 0; k < i; k++) {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.sqrt(h);
                if (f > 0) {
                    g = -g;
                }
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (int j = 0; j < i; j++) {
                    e[j] = 0.0;
                }
                for (int j = 0; j < i; j++) {
                    f = d[j];
                    v[j][i] = f;
                    g = e[j] + v[j][j] * f;
                    for (int k = j + 1; k <= i - 1; k++) {
                        g += v[k][j] * d[k];
                        e[k] += v[k][j] * f;
                    }
                    e[j] = g;
                }
                f = 0.0;
                for (int j = 0; j < i; j++) {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) {
                    e[j] -= hh * d[j];
                }
                for (int j = 0; j < i; j++) {
                    f = d[j];
                    g = e[j];
                    for (int k = j; k <= i - 1; k++) {
                        v[k][j] -= (f * e[k] + g * d[k]);
                    }
                    d[j] = v[i - 1][j];
                    v[i][j] = 0.0;
                }
            }
            d[i] = h;
        }
        for (int i = 0; i < n - 1; i++) {
            v[n - 1][i] = v[i][i];
            v[i][i] = 1.0;
            double h = d[i + 1];
            if (h != 0.0) {
                for (int k = 0; k <= i; k++) {
                    d[k] = v[k][i + 1] / h;
                }
                for (int j = 0; j <= i; j++) {
                    double g = 0.0;
                    for (int k = 0; k <= i; k++) {
                        g += v[k][i + 1] * v[k][j];
                    }
                    for (int k = 0; k <= i; k++) {
                        v[k][j] -= g * d[k];
                    }
                }
            }
            for (int k = 0; k <= i; k++) {
                v[k][i + 1] = 0.0;
            }
        }
        for (int j = 0; j < n; j++) {
            d[j] = v[n - 1][j];
            v[n - 1][j] = 0.0;
        }
        v[n - 1][n - 1] = 1.0;
        e[0] = 0.0;
    }

    /**
     * Implicit QL iterations on the tridiagonal matrix; eigenvalues end in d (ascending), the eigenvector of d[j] in
     * {@code columns[j]} (which holds the transform's columns on entry).
     */
    private static void diagonalize(double[][] columns, double[] d, double[] e) {
        int n = columns.length;
        for (int i = 1; i < n; i++) {
            e[i - 1] = e[i];
        }
        e[n - 1] = 0.0;
        double f = 0.0;
        double tst1 = 0.0;
        double eps = Math.ulp(1.0);
        for (int l = 0; l < n; l++) {
            tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
            int m = l;
            while (m < n && Math.abs(e[m]) > eps * tst1) {
                m++;
            }
            if (m > l) {
                int iterations = 0;
                do {
                    if (++iterations > 100) {
                        throw new ModelPressException(ErrorCode.INTERNAL, "eigen-decomposition", "did not converge in 100 iterations");
                    }
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2.0 * e[l]);
                    double r = hypot(p, 1.0);
                    if (p < 0) {
                        r = -r;
                    }
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) {
                        d[i] -= h;
                    }
                    f += h;
                    p = d[m];
                    double c = 1.0;
                    double c2 = c;
                    double c3 = c;
                    double el1 = e[l + 1];
                    double s = 0.0;
                    double s2 = 0.0;
                    for (int i = m - 1; i >= l; i--) {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        double[] left = columns[i];
                        double[] right = columns[i + 1];
                        for (int k = 0; k < n; k++) {
                            h = right[k];
                            right[k] = s * left[k] + c * h;
                            left[k] = c * left[k] - s * h;
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0.0;
        }
        for (int i = 0; i < n - 1; i++) {
            int k = i;
            double p = d[i];
            for (int j = i + 1; j < n; j++) {
                if (d[j] < p) {
                    k = j;
                    p = d[j];
                }
            }
            if (k != i) {
                d[k] = d[i];
                d[i] = p;
                double[] swap = columns[i];
                columns[i] = columns[k];
                columns[k] = swap;
            }
        }
    }

    /** sqrt(a^2 + b^2) without overflow or underflow (Math.hypot is exact but several times slower). */
    private static double hypot(double a, double b) {
        double x = Math.abs(a);
        double y = Math.abs(b);
        if (x > y) {
            double t = y / x;
            return x * Math.sqrt(1 + t * t);
        }
        if (y != 0) {
            double t = x / y;
            return y * Math.sqrt(1 + t * t);
        }
        return 0.0;
    }
}
