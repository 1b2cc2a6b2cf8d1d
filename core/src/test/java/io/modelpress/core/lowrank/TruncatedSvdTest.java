package io.modelpress.core.lowrank;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class TruncatedSvdTest {
    @Test
    void eigenDecompositionOfASymmetricMatrix() {
        Random random = new Random(1);
        int n = 40;
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                a[i][j] = a[j][i] = random.nextGaussian();
            }
        }
        SymmetricEigen eigen = SymmetricEigen.of(a);

        for (int j = 0; j < n; j++) {
            if (j > 0) {
                assertThat(eigen.values[j]).isLessThanOrEqualTo(eigen.values[j - 1]);
            }
            for (int i = 0; i < n; i++) {
                double av = 0;
                for (int k = 0; k < n; k++) {
                    av += a[i][k] * eigen.vectors[k][j];
                }
                assertThat(av).as("(A v)[%d] of vector %d", i, j).isCloseTo(eigen.values[j] * eigen.vectors[i][j], within(1e-10));
            }
            for (int k = 0; k < n; k++) {
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += eigen.vectors[i][j] * eigen.vectors[i][k];
                }
                assertThat(dot).isCloseTo(j == k ? 1 : 0, within(1e-12));
            }
        }
    }

    /** W = Q1 diag(s) Q2^T with known singular values s; both orientations (tall and wide). */
    @ParameterizedTest(name = "{0} x {1}")
    @CsvSource({"60, 25", "25, 60", "30, 30"})
    void singularValuesAndFactorsOfAKnownMatrix(int rows, int cols) {
        Random random = new Random(rows * 100L + cols);
        int rank = Math.min(rows, cols);
        double[][] q1 = orthonormalColumns(random, rows, rank);
        double[][] q2 = orthonormalColumns(random, cols, rank);
        double[] s = new double[rank];
        for (int i = 0; i < rank; i++) {
            s[i] = Math.pow(0.8, i) * 10;
        }
        float[] w = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double v = 0;
                for (int k = 0; k < rank; k++) {
                    v += q1[i][k] * s[k] * q2[j][k];
                }
                w[i * cols + j] = (float) v;
            }
        }
        TruncatedSvd svd = TruncatedSvd.of(w, rows, cols);

        double[] energies = svd.energies();
        for (int i = 0; i < rank; i++) {
            assertThat(Math.sqrt(energies[i])).as("singular value %d", i).isCloseTo(s[i], within(1e-4 * s[0]));
        }
        // full rank reproduces W; rank r leaves exactly the energy of the dropped singular values
        assertThat(relativeError(w, svd.factors(rank), rows, cols)).isLessThan(1e-6);
        int r = rank / 3;
        double dropped = 0;
        double total = 0;
        for (int i = 0; i < rank; i++) {
            total += s[i] * s[i];
            if (i >= r) {
                dropped += s[i] * s[i];
            }
        }
        assertThat(relativeError(w, svd.factors(r), rows, cols)).isCloseTo(Math.sqrt(dropped / total), within(1e-5));
        assertThat(svd.retainedEnergy(r)).isCloseTo(1 - dropped / total, within(1e-6));
        assertThat(svd.rankForEnergy(1 - dropped / total - 1e-9)).isEqualTo(r);
        assertThat(svd.rankForEnergy(1.0)).isEqualTo(rank);
    }

    @Test
    void aRankDeficientMatrixIsStillReproducedAtFullRank() {
        Random random = new Random(4);
        int rows = 50;
        int cols = 20;
        float[] w = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            float a = (float) random.nextGaussian();
            for (int j = 0; j < cols; j++) {
                w[i * cols + j] = j < 10 ? a * (j + 1) : 0; // rank 1, half the columns zero
            }
        }
        TruncatedSvd svd = TruncatedSvd.of(w, rows, cols);

        assertThat(svd.rankForEnergy(0.999999)).isEqualTo(1);
        assertThat(relativeError(w, svd.factors(1), rows, cols)).isLessThan(1e-6);
        assertThat(relativeError(w, svd.factors(cols), rows, cols)).isLessThan(1e-6);
    }

    @Test
    void aMiniLmSizedMatrixDecomposesInBothOrientations() {
        Random random = new Random(7);
        int rows = 384;
        int cols = 1536;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian() * 0.05f;
        }
        TruncatedSvd wide = TruncatedSvd.of(w, rows, cols);
        float[] t = new float[w.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = w[i * cols + j];
            }
        }
        TruncatedSvd tall = TruncatedSvd.of(t, cols, rows);

        double[] a = wide.energies();
        double[] b = tall.energies();
        for (int i = 0; i < rows; i++) {
            assertThat(a[i]).isCloseTo(b[i], within(1e-9 * a[0]));
        }
        assertThat(relativeError(w, wide.factors(rows), rows, cols)).isLessThan(1e-5);
        assertThat(relativeError(w, wide.factors(192), rows, cols)).isCloseTo(Math.sqrt(1 - wide.retainedEnergy(192)), within(1e-5));
    }

    static double relativeError(float[] w, TruncatedSvd.Factors f, int rows, int cols) {
        double error = 0;
        double norm = 0;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double v = 0;
                for (int k = 0; k < f.rank(); k++) {
                    v += (double) f.left()[i * f.rank() + k] * f.right()[k * cols + j];
                }
                double d = v - w[i * cols + j];
                error += d * d;
                norm += (double) w[i * cols + j] * w[i * cols + j];
            }
        }
        return Math.sqrt(error / norm);
    }

    /** Gram-Schmidt on Gaussian columns. */
    static double[][] orthonormalColumns(Random random, int n, int k) {
        double[][] q = new double[n][k];
        for (int j = 0; j < k; j++) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = random.nextGaussian();
            }
            for (int p = 0; p < j; p++) {
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += v[i] * q[i][p];
                }
                for (int i = 0; i < n; i++) {
                    v[i] -= dot * q[i][p];
                }
            }
            double norm = 0;
            for (double x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                q[i][j] = v[i] / norm;
            }
        }
        return q;
    }
}
