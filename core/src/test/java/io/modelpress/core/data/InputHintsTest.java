package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static io.modelpress.core.data.NumpyDatasetTest.failure;
import static org.assertj.core.api.Assertions.assertThat;

/** The hint syntax of --shape NAME=DIMS and --value NAME=V (and the recipe keys that reuse it). */
class InputHintsTest {
    static final ValueShape AUDIO = BatchAxesTest.named("input", DataType.FLOAT, "batch", "samples");
    static final ValueShape RATE = new ValueShape("sr", DataType.INT64, List.of(), true);
    static final ValueShape STATE = BatchAxesTest.named("state", DataType.FLOAT, 2L, "batch", 128L);
    static final List<ValueShape> VAD = List.of(AUDIO, RATE, STATE);

    @Test
    void shapesAcceptTheCommonSpellings() {
        assertThat(InputHints.parseShape("1x512", "h")).containsExactly(1, 512);
        assertThat(InputHints.parseShape("2X1x128", "h")).containsExactly(2, 1, 128);
        assertThat(InputHints.parseShape("[2, 1, 128]", "h")).containsExactly(2, 1, 128);
        assertThat(InputHints.parseShape(" 512 ", "h")).containsExactly(512);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "[]", "1xa", "0x512", "1x-3", "1x", "x512", "1.5x2", "99999999999", "1 x 2 x"})
    void badShapesNameTheHintAndTheForm(String text) {
        ModelPressException e = failure(() -> InputHints.parseShape(text, "--shape input=" + text));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).startsWith("--shape input=" + text + ": ").contains("1x512");
    }

    @Test
    void valuesKeepWholeNumbersExact() {
        assertThat(InputHints.parseValue("16000", "v")).isEqualTo(16000L);
        assertThat(InputHints.parseValue("9007199254740993", "v")).isEqualTo(9007199254740993L);
        assertThat(InputHints.parseValue("-0.25", "v")).isEqualTo(-0.25);
        assertThat(InputHints.parseValue("1e-3", "v")).isEqualTo(0.001);
        assertThat(InputHints.parseValue("true", "v")).isEqualTo(1L);
        assertThat(InputHints.parseValue("false", "v")).isEqualTo(0L);
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "NaN", "Infinity", "1f", "0x10", "16k"})
    void badValuesSayWhatIsExpected(String text) {
        ModelPressException e = failure(() -> InputHints.parseValue(text, "--value sr=" + text));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).startsWith("--value sr=" + text + ": ").contains("not a number").contains("16000");
    }

    @Test
    void argumentsAreNameEqualsSpec() {
        InputHints hints = InputHints.parse(List.of("input=1x512", "state = 2x1x128"), List.of("sr=16000"));
        assertThat(hints.shapes().get("input")).containsExactly(1, 512);
        assertThat(hints.shapes().get("state")).containsExactly(2, 1, 128);
        assertThat(hints.values()).containsEntry("sr", 16000L);
        assertThat(hints).hasToString("input=1x512, state=2x1x128, sr=16000");

        for (String bad : List.of("input", "=1x512", "input=", "1x512")) {
            ModelPressException e = failure(() -> InputHints.parse(List.of(bad), List.of()));
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
            assertThat(e.getMessage()).contains("--shape " + bad).contains("NAME=DIMS").contains("input=1x512");
        }
        ModelPressException e = failure(() -> InputHints.parse(List.of(), List.of("sr")));
        assertThat(e.getMessage()).contains("--value sr").contains("NAME=VALUE").contains("sr=16000");
        e = failure(() -> InputHints.parse(List.of(), List.of("sr=16000", "sr=8000")));
        assertThat(e.getMessage()).contains("second value for input 'sr'");
        e = failure(() -> InputHints.parse(List.of("input=1x512", "input=1x256"), List.of()));
        assertThat(e.getMessage()).contains("second shape for input 'input'");
    }

    @Test
    void laterHintsOverrideEarlierOnesInputByInput() {
        InputHints recipe = InputHints.parse(List.of("input=1x256"), List.of("sr=8000"));
        InputHints cli = InputHints.parse(List.of(), List.of("sr=16000"));
        InputHints merged = recipe.overriddenBy(cli);
        assertThat(merged.shapes().get("input")).containsExactly(1, 256);
        assertThat(merged.values()).containsEntry("sr", 16000L);
        assertThat(InputHints.NONE.isEmpty()).isTrue();
        assertThat(merged.isEmpty()).isFalse();
    }

    @Test
    void hintsMustFitTheModelsInputs() {
        InputHints.parse(List.of("input=1x512", "state=2x1x128"), List.of("sr=16000", "state=0")).check(VAD);
        InputHints.parse(List.of("input=512", "state=2x128"), List.of()).check(VAD); // without the batch dimension

        ModelPressException e = failure(() -> InputHints.parse(List.of(), List.of("rate=16000")).check(VAD));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("value hint for 'rate'").contains("no input of that name").contains("input, sr, state");

        e = failure(() -> InputHints.parse(List.of("input=1x2x512"), List.of()).check(VAD));
        assertThat(e.getMessage()).contains("input=[1,2,512]").contains("[batch,samples]").contains("give 2 dimensions")
                .contains("or 1 without the batch dimension").contains("e.g. input=1x32");

        e = failure(() -> InputHints.parse(List.of("state=3x1x128"), List.of()).check(VAD));
        assertThat(e.getMessage()).contains("'state'").contains("[2,batch,128]");

        e = failure(() -> InputHints.parse(List.of("sr=1"), List.of()).check(VAD));
        assertThat(e.getMessage()).contains("'sr'").contains("is a scalar").contains("takes a value");
    }

    @Test
    void theBatchEntryOfAShapeFollowsTheBatchSize() {
        assertThat(InputHints.fullShape(AUDIO, 0, new long[] {1, 512}, 8)).containsExactly(8, 512);
        assertThat(InputHints.fullShape(AUDIO, 0, new long[] {512}, 8)).containsExactly(8, 512);
        assertThat(InputHints.fullShape(STATE, 1, new long[] {2, 1, 128}, 8)).containsExactly(2, 8, 128);
        assertThat(InputHints.fullShape(STATE, 1, new long[] {2, 128}, 8)).containsExactly(2, 8, 128);
        assertThat(InputHints.fullShape(STATE, 1, new long[] {2, 1, 64}, 8)).isNull();
    }
}
