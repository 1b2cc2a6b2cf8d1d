package io.modelpress.core.lowrank;

/**
 * Low-rank factors of a matrix W [rows x cols] from the eigen-decomposition of its smaller Gram matrix (W^T W or
 * W W^T, in double precision): the eigenvalues are the squared singular values, the eigenvectors the right (or left)
 * singular vectors. The factors are W V_r and V_r^T (or U_r and U_r^T W), i.e. W projected onto its top-r singular
 * subspace - the best rank-r approximation - and exactly W at full rank, however small the trailing singular values.
 */
final class TruncatedSvd {
    private final float[] w;
    private final int rows;
    private final int cols;
    /** Eigenvectors of the Gram matrix over the smaller side; columns, largest eigenvalue first. */
    private final double[][] basis;
    /** Squared singular values, largest first (clamped at 0: rounding can make the smallest slightly negative). */
    private final double[] energies;

    private TruncatedSvd(float[] w, int rows, int cols, double[][] basis, double[] energies) {
        this.w = w;
        this.rows = rows;
        this.cols = cols;
        this.basis = basis;
        this.energies = energies;
    }

    /** Decomposes a row-major matrix. */
    static TruncatedSvd of(float[] w, int rows, int cols) {
        SymmetricEigen eigen = SymmetricEigen.of(cols <= rows ? gramOfColumns(w, rows, cols) : gramOfRows(w, rows, cols));
        double[] energies = eigen.values.clone();
        for (int i = 0; i < energies.length; i++) {
            energies[i] = Math.max(0, energies[i]);
        }
        return new TruncatedSvd(w, rows, cols, eigen.vectors, energies);
    }

    int fullRank() {
        return Math.min(rows, cols);
    }

    /** Squared singular values, largest first. */
    double[] energies() {
        return energies.clone();
    }

    /** Fraction of the squared singular values (the Frobenius energy) the first {@code rank} keep. */
    double retainedEnergy(int rank) {
        double total = 0;
        double kept = 0;
        for (int i = 0; i < energies.length; i++) {
            total += energies[i];
            if (i < rank) {
                kept += energies[i];
            }
        }
        return total == 0 ? 1 : kept / total;
    }

    /** The smallest rank that keeps at least {@code energy} of the squared singular values (at least 1). */
    int rankForEnergy(double energy) {
        double total = 0;
        for (double e : energies) {
            total += e;
        }
        double kept = 0;
        for (int r = 0; r < energies.length; r++) {
            kept += energies[r];
            if (kept >= energy * total) {
                return r + 1;
            }
        }
        return energies.length;
    }

    /** left [rows x rank] and right [rank x cols], row-major, with left x right the best rank-r approximation. */
    record Factors(float[] left, float[] right, int rank) {
    }

    Factors factors(int rank) {
        float[] left = new float[rows * rank];
        float[] right = new float[rank * cols];
        if (cols <= rows) {
            // left = W V_r, right = V_r^T
            double[] row = new double[rank];
            for (int i = 0; i < rows; i++) {
                java.util.Arrays.fill(row, 0);
                int base = i * cols;
                for (int k = 0; k < cols; k++) {
                    double wik = w[base + k];
                    if (wik == 0) {
                        continue;
                    }
                    double[] v = basis[k];
                    for (int j = 0; j < rank; j++) {
                        row[j] += wik * v[j];
                    }
                }
                for (int j = 0; j < rank; j++) {
                    left[i * rank + j] = (float) row[j];
                }
            }
            for (int j = 0; j < rank; j++) {
                for (int k = 0; k < cols; k++) {
                    right[j * cols + k] = (float) basis[k][j];
                }
            }
        } else {
            // left = U_r, right = U_r^T W
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < rank; j++) {
                    left[i * rank + j] = (float) basis[i][j];
                }
            }
            double[] acc = new double[cols];
            for (int j = 0; j < rank; j++) {
                java.util.Arrays.fill(acc, 0);
                for (int i = 0; i < rows; i++) {
                    double u = basis[i][j];
                    int base = i * cols;
                    for (int k = 0; k < cols; k++) {
                        acc[k] += u * w[base + k];
                    }
                }
                for (int k = 0; k < cols; k++) {
                    right[j * cols + k] = (float) acc[k];
                }
            }
        }
        return new Factors(left, right, rank);
    }

    /** W^T W [cols x cols]. */
    private static double[][] gramOfColumns(float[] w, int rows, int cols) {
        double[][] g = new double[cols][cols];
        double[] row = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                row[k] = w[r * cols + k];
            }
            for (int i = 0; i < cols; i++) {
                double a = row[i];
                if (a == 0) {
                    continue;
                }
                double[] gi = g[i];
                for (int j = i; j < cols; j++) {
                    gi[j] += a * row[j];
                }
            }
        }
        mirror(g);
        return g;
    }

    /** W W^T [rows x rows]. */
    private static double[][] gramOfRows(float[] w, int rows, int cols) {
        double[][] g = new double[rows][rows];
        double[][] rowsAsDouble = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                rowsAsDouble[r][k] = w[r * cols + k];
            }
        }
        for (int i = 0; i < rows; i++) {
            double[] a = rowsAsDouble[i];
            for (int j = i; j < rows; j++) {
                double[] b = rowsAsDouble[j];
                double sum = 0;
                for (int k = 0; k < cols; k++) {
                    sum += a[k] * b[k];
                }
                g[i][j] = sum;
            }
        }
        mirror(g);
        return g;
    }

    private static void mirror(double[][] g) {
        for (int i = 0; i < g.length; i++) {
            for (int j = 0; j < i; j++) {
                g[i][j] = g[j][i];
            }
        }
    }
}
