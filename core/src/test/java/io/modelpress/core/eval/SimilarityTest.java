package io.modelpress.core.eval;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SimilarityTest {
    @Test
    void cosineOfWholeVectorsAndOfSlices() {
        assertThat(Similarity.cosine(new float[] {1, 0}, new float[] {0, 1})).isCloseTo(0, within(1e-12));
        assertThat(Similarity.cosine(new float[] {1, 2, 3}, new float[] {2, 4, 6})).isCloseTo(1, within(1e-12));
        assertThat(Similarity.cosine(new float[] {1, 1}, new float[] {1, 0})).isCloseTo(Math.sqrt(0.5), within(1e-12));
        // the second row of two: (1, 0) against (-1, 0)
        assertThat(Similarity.cosine(new float[] {5, 5, 1, 0}, new float[] {5, 5, -1, 0}, 2, 2)).isCloseTo(-1, within(1e-12));
        assertThat(Similarity.cosine(new double[] {3, 4}, new double[] {4, 3})).isCloseTo(24.0 / 25, within(1e-12));
    }

    @Test
    void zeroVectorsAreDefinedAndLengthsMustMatch() {
        assertThat(Similarity.cosine(new float[2], new float[2])).isEqualTo(1);
        assertThat(Similarity.cosine(new float[] {0, 0}, new float[] {1, 0})).isEqualTo(0);
        assertThatThrownBy(() -> Similarity.cosine(new float[2], new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 and 3");
    }
}
