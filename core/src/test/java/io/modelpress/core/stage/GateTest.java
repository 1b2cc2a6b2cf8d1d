package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The gate's logic: all limits of a branch hold, `or` as the second branch, unmeasurable or NaN values fail. */
class GateTest {
    private static Map<String, Object> gate(String yaml) {
        StageSpec eval = RecipeParser.parse("stages:\n  - eval: { gate: " + yaml + " }\n", "gate.yaml").stages().get(0);
        return eval.object("gate");
    }

    /** What an evaluation measured: one float output with these cosines, and agreement/accuracy when given. */
    private static EvaluationReport measured(double cosineMean, double cosineWorst, Double agreement, Double accuracy, Double referenceAccuracy) {
        var cosine = new EvaluationReport.Spread(cosineMean, cosineWorst);
        return new EvaluationReport("model.onnx", "original.onnx", 100, 1, "y", accuracy, referenceAccuracy, agreement,
                Map.of("y", new EvaluationReport.OutputMetrics("y", cosine, null, null, null)), null, null, null, Map.of(), Map.of(),
                new EvaluationReport.Size(100, 90), new EvaluationReport.Size(400, 360), List.of());
    }

    private static List<String> check(Map<String, Object> gate, EvaluationReport report, ArrayNode checks) {
        return EvalStage.checkGate(gate, report, checks);
    }

    @Test
    void orIsASecondSetOfLimitsAndNestsNoFurther() {
        Map<String, Object> gate = gate("{ min_cosine: 0.99, or: { min_agreement: 0.99, max_accuracy_drop: 1 } }");
        assertThat(gate).containsEntry("min_cosine", 0.99).containsEntry("or", Map.of("min_agreement", 0.99, "max_accuracy_drop", 1.0));

        assertThatThrownBy(() -> gate("{ or: { min_cosine: 0.9, or: { min_agreement: 0.9 } } }"))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("stages[0].eval.gate.or.or: unknown key");
        assertThatThrownBy(() -> gate("{ or: { min_agreement: 2 } }"))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("stages[0].eval.gate.or.min_agreement: expected a number from 0 to 1");
    }

    @Test
    void everyLimitOfABranchMustHold() {
        Map<String, Object> gate = gate("{ min_cosine: 0.99, min_cosine_worst: 0.95 }");
        assertThat(check(gate, measured(0.995, 0.97, null, null, null), array())).isEmpty();
        ArrayNode checks = array();
        List<String> failures = check(gate, measured(0.995, 0.90, null, null, null), checks);
        assertThat(failures).containsExactly("min_cosine_worst = 0.9000, below the limit 0.9500");
        assertThat(checks).hasSize(2);
        assertThat(checks.get(0).get("passed").asBoolean()).isTrue();
        assertThat(checks.get(1).get("passed").asBoolean()).isFalse();
    }

    @Test
    void theOrBranchPassesTheGateWhenTheFirstFailsAndIsListedAsOrKeys() {
        Map<String, Object> gate = gate("{ min_cosine: 0.99, or: { min_agreement: 0.99, max_accuracy_drop: 1 } }");
        ArrayNode checks = array();
        // a classifier whose logits moved (cosine 0.97) but whose answers did not
        assertThat(check(gate, measured(0.97, 0.8, 0.995, 0.910, 0.912), checks)).isEmpty();
        assertThat(checks).extracting(c -> c.get("name").asText()).containsExactly("min_cosine", "or.max_accuracy_drop", "or.min_agreement");

        List<String> failures = check(gate, measured(0.97, 0.8, 0.97, 0.90, 0.912), array());
        assertThat(failures).singleElement().asString()
                .isEqualTo("min_cosine = 0.9700, below the limit 0.9900; and the `or` limits fail too: "
                        + "or.max_accuracy_drop = 1.2000, above the limit 1.0000; or.min_agreement = 0.9700, below the limit 0.9900");
    }

    @Test
    void aLimitThatCannotBeMeasuredFailsAndSaysWhy() {
        // synthetic inputs have no labels: the accuracy branch cannot rescue a collapsed model
        Map<String, Object> gate = gate("{ min_cosine: 0.99, or: { min_agreement: 0.99, max_accuracy_drop: 1 } }");
        List<String> failures = check(gate, measured(0.3, 0.01, 1.0, null, null), array());
        assertThat(failures).singleElement().asString().contains("min_cosine = 0.3000, below the limit 0.9900",
                "or.max_accuracy_drop could not be measured (no labels in the data, or no class output)");
    }

    @Test
    void nanNeverPasses() {
        ArrayNode checks = array();
        assertThat(check(gate("{ min_cosine: -1 }"), measured(Double.NaN, Double.NaN, null, null, null), checks))
                .singleElement().asString().startsWith("min_cosine = NaN");
        assertThat(checks.get(0).get("passed").asBoolean()).isFalse();
        assertThat(check(gate("{ min_cosine: 0.5, or: { min_cosine_worst: -1 } }"), measured(Double.NaN, Double.NaN, null, null, null), array()))
                .isNotEmpty();
    }

    @Test
    void aGateWithOnlyAnOrBranchIsThatBranch() {
        Map<String, Object> gate = gate("{ or: { min_cosine: 0.99 } }");
        ArrayNode checks = array();
        assertThat(check(gate, measured(0.5, 0.1, null, null, null), checks)).containsExactly("min_cosine = 0.5000, below the limit 0.9900");
        assertThat(check(gate, measured(0.995, 0.9, null, null, null), array())).isEmpty();
        assertThat(check(Map.of(), measured(0.1, 0.1, null, null, null), array())).as("no gate, nothing to fail").isEmpty();
    }

    private static ArrayNode array() {
        return JsonNodeFactory.instance.arrayNode();
    }
}
