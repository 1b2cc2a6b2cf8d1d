package io.modelpress.orchestrator;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class DropTest {
    @Test
    void modelInAFolderIsNamedAfterTheFolder() {
        Drop drop = Drop.of("incoming/", "incoming/bert base/model.onnx").orElseThrow();
        assertThat(drop.name()).isEqualTo("bert base");
        assertThat(drop.folder()).isEqualTo("incoming/bert base/");
        assertThat(drop.recipeKey()).isEqualTo("incoming/bert base/recipe.yaml");
        assertThat(drop.tokenizerKey()).isEqualTo("incoming/bert base/tokenizer.json");
        assertThat(drop.dataPrefix()).isEqualTo("incoming/bert base/data/");
        assertThat(drop.studentKey()).isEqualTo("incoming/bert base/student.onnx");
    }

    @Test
    void nestedFoldersAndUpperCaseSuffix() {
        assertThat(Drop.of("incoming/", "incoming/team/bert/Model.ONNX").orElseThrow().name()).isEqualTo("team/bert");
    }

    @Test
    void modelDirectlyUnderThePrefixIsNamedAfterItsFile() {
        Drop drop = Drop.of("incoming/", "incoming/resnet.onnx").orElseThrow();
        assertThat(drop.name()).isEqualTo("resnet");
        assertThat(drop.folder()).isEqualTo("incoming/");
    }

    @Test
    void otherKeysAreNoDrops() {
        assertThat(Drop.of("incoming/", "incoming/bert/recipe.yaml")).isEmpty();
        assertThat(Drop.of("incoming/", "incoming/bert/model.onnx.data")).isEmpty();
        assertThat(Drop.of("incoming/", "outgoing/bert/run-1/model.onnx")).isEmpty();
        assertThat(Drop.of("incoming/", "runs/run-1/input/model.onnx")).isEmpty();
        assertThat(Drop.of("incoming/", "incoming/bert/.onnx")).isEmpty();
        assertThat(Drop.of("incoming/", "incoming/bert/data/teacher.onnx")).isEmpty();
        // the student beside a model starts no run of its own, in a folder or directly under the prefix
        assertThat(Drop.of("incoming/", "incoming/bert/student.onnx")).isEmpty();
        assertThat(Drop.of("incoming/", "incoming/student.onnx")).isEmpty();
        assertThat(Drop.of("incoming/", "incoming/bert/my-student.onnx")).isPresent();
    }
}
