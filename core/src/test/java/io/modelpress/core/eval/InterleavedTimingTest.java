package io.modelpress.core.eval;

import io.modelpress.core.data.HostArray;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** How the shared timing method spends its sessions, blocks and rounds, on real ONNX Runtime sessions. */
class InterleavedTimingTest {
    @TempDir
    Path dir;

    List<InterleavedTiming.Contender> twoModels() {
        Path a = dir.resolve("a.onnx");
        Path b = dir.resolve("b.onnx");
        OnnxModel.of(SmallModels.mlp(32, 64, 8, false, 1)).write(a);
        OnnxModel.of(SmallModels.mlp(32, 64, 8, true, 2)).write(b);
        Map<String, HostArray> one = Map.of("x", HostArray.of(SmallModels.random(new Random(1), 32, 1), 1, 32));
        Map<String, HostArray> four = Map.of("x", HostArray.of(SmallModels.random(new Random(2), 4 * 32, 1), 4, 32));
        return List.of(new InterleavedTiming.Contender("a", a, List.of(one, four)), new InterleavedTiming.Contender("b", b, List.of(one, four)));
    }

    @Test
    void aFixedPlanRunsOneBlockOfExactlyItsRounds() {
        InterleavedTiming.Result result = InterleavedTiming.run(twoModels(),
                InterleavedTiming.Plan.fixed(SessionSettings.DEFAULT.withThreads(1), 3, 5, 2));
        for (String name : List.of("a", "b")) {
            for (int w = 0; w < 2; w++) {
                InterleavedTiming.Samples s = result.of(name, w);
                assertThat(s.blocks()).hasSize(1);
                assertThat(s.blocks().get(0)).hasSize(5);
                assertThat(Arrays.stream(s.blocks().get(0)).min().orElseThrow()).isPositive();
                double[] runs = s.runs();
                assertThat(runs.length).as("3 sessions x 5 rounds x repeats").isGreaterThanOrEqualTo(15).matches(n -> n % 15 == 0);
                for (int i = 1; i < runs.length; i++) {
                    assertThat(runs[i]).isGreaterThanOrEqualTo(runs[i - 1]);
                }
                assertThat(s.medianMs()).isBetween(runs[0], runs[runs.length - 1]);
                assertThat(s.medianCpuMs()).isPositive();
            }
        }
        InterleavedTiming.Samples a = result.of("a", 1);
        assertThat(a.medianRatioTo(a)).isEqualTo(1.0);
        assertThat(a.blockRatiosTo(result.of("b", 1))).hasSize(1);
    }

    @Test
    void aBudgetedPlanRunsBetweenItsMinimumAndMaximumBlocks() {
        List<InterleavedTiming.Contender> contenders = twoModels();
        InterleavedTiming.Result none = InterleavedTiming.run(contenders,
                InterleavedTiming.Plan.budgeted(SessionSettings.DEFAULT.withThreads(1), 3, 6, Duration.ZERO));
        assertThat(none.of("a", 0).blocks()).as("no budget: the minimum blocks").hasSize(3)
                .allSatisfy(rounds -> assertThat(rounds.length).isPositive());

        InterleavedTiming.Result ample = InterleavedTiming.run(contenders, new InterleavedTiming.Plan(
                SessionSettings.DEFAULT.withThreads(1), 1, 2, 3, 3, 8, Duration.ofSeconds(120), 1, false));
        for (int w = 0; w < 2; w++) {
            assertThat(ample.of("b", w).blocks()).as("an ample budget: the maxima").hasSize(3)
                    .allSatisfy(rounds -> assertThat(rounds.length).isEqualTo(8));
            assertThat(ample.of("a", w).blockRatiosTo(ample.of("b", w))).hasSize(3);
        }
    }
}
