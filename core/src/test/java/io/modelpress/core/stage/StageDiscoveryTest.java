package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.Param;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.RecipeDocs;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.RecipeSchema;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * Stage types are found by ServiceLoader: core's own from core's META-INF/services, others from jars on a stage path
 * whose META-INF/services name them (the provider classes here are test classes; the jars only name them).
 */
class StageDiscoveryTest {
    private static final ClassLoader CORE = StageProvider.class.getClassLoader();

    @TempDir
    Path dir;

    /** A contributed stage type with a mode of its own: stamps a text into the graph's doc string or metadata. */
    public static final class Stamp implements StageProvider {
        @Override
        public String type() {
            return "stamp";
        }

        @Override
        public Map<String, Param> parameters() {
            Map<String, Param> keys = new java.util.LinkedHashMap<>();
            keys.put("mode", Param.choice("mode", null, "where the text goes", "doc-string", "metadata"));
            keys.put("text", Param.string("text", "stamped", "the text"));
            keys.put("key", Param.string("key", "stamp", "the metadata key").onlyIn("metadata"));
            return keys;
        }

        @Override
        public Stage stage() {
            return context -> {
                OnnxModel model = OnnxModel.read(context.input());
                if (context.spec().string("mode").equals("metadata")) {
                    model.proto().addMetadataPropsBuilder().setKey(context.spec().string("key")).setValue(context.spec().string("text"));
                } else {
                    model.graph().setDocString(context.spec().string("text"));
                }
                model.write(context.outputModel());
                return new StageOutcome(context.outputModel(), JsonNodeFactory.instance.objectNode().put("stamped", true), null);
            };
        }
    }

    /** Claims core's quantize type. */
    public static final class SecondQuantize implements StageProvider {
        @Override
        public String type() {
            return "quantize";
        }

        @Override
        public Map<String, Param> parameters() {
            return Map.of();
        }

        @Override
        public Stage stage() {
            throw new AssertionError("never made");
        }
    }

    public static final class BadName implements StageProvider {
        @Override
        public String type() {
            return "Quantize Twice";
        }

        @Override
        public Map<String, Param> parameters() {
            return Map.of();
        }

        @Override
        public Stage stage() {
            throw new AssertionError("never made");
        }
    }

    /** A jar whose META-INF/services names the given providers. */
    private Path jarNaming(String name, Class<?>... providers) throws IOException {
        Path jar = dir.resolve(name);
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file)) {
            out.putNextEntry(new JarEntry("META-INF/services/" + StageProvider.class.getName()));
            for (Class<?> provider : providers) {
                out.write((provider.getName() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            out.closeEntry();
        }
        return jar;
    }

    private static StageRegistry withPath(String path) {
        return StageRegistry.load(StageRegistry.withStagePath(path, "TEST_STAGE_PATH", CORE));
    }

    @Test
    void coresStageTypesAreFoundOnceEach() {
        assertThat(Stages.types()).containsExactly("quantize", "convert", "prune", "lowrank", "eval");
        assertThat(Stages.forType("eval")).isSameAs(Stages.forType("eval"));
        assertThat(Stages.parameters("convert")).containsKeys("to", "keep_io_types");

        ModelPressException unknown = catchThrowableOfType(ModelPressException.class, () -> Stages.forType("stamp"));
        assertThat(unknown.code()).isEqualTo(ErrorCode.BAD_RECIPE);
        assertThat(unknown.getMessage()).contains("stage type 'stamp'", "is unknown; known: quantize, convert, prune, lowrank, eval", Stages.PATH_VARIABLE);
        for (String type : RecipeSchema.PLANNED) {
            ModelPressException planned = catchThrowableOfType(ModelPressException.class, () -> Stages.forType(type));
            assertThat(planned.getMessage()).contains("stage type '" + type + "'", "not available in this version yet");
        }
        // distill is provided (by train), so core alone does not know it: unknown here, not "planned"
        assertThat(catchThrowableOfType(ModelPressException.class, () -> Stages.forType("distill")).getMessage())
                .contains("stage type 'distill'", "is unknown");
    }

    @Test
    void aProviderNamedInAJarOnTheStagePathIsFoundAfterCoresAndRuns() throws IOException {
        Path jar = jarNaming("stamp.jar", Stamp.class);

        StageRegistry registry = withPath(jar.toString());

        assertThat(registry.types()).containsExactly("quantize", "convert", "prune", "lowrank", "eval", "stamp");
        StageSpec spec = RecipeParser.parse("stages:\n  - stamp: { mode: doc-string, text: from a jar }\n", "r.yaml", registry)
                .stages().get(0);
        Path input = dir.resolve("in.onnx");
        Files.write(input, SmallModels.mlp(4, 8, 2, false, 3).toByteArray());
        Files.createDirectories(dir.resolve("work"));
        StageOutcome outcome = registry.stage("stamp").run(new StageContext(spec, input, input, List.of(), null, dir.resolve("work"), 1, null));
        assertThat(OnnxModel.read(outcome.model()).graph().getDocString()).isEqualTo("from a jar");
        assertThat(registry.stage("stamp")).as("made once").isSameAs(registry.stage("stamp"));
    }

    @Test
    void aFolderOnTheStagePathContributesEveryJarInIt() throws IOException {
        jarNaming("stamp.jar", Stamp.class);
        Files.writeString(dir.resolve("notes.txt"), "not a jar: ignored");

        assertThat(withPath(File.pathSeparator + dir + File.pathSeparator).types()).containsExactly("quantize", "convert", "prune", "lowrank", "eval", "stamp");
    }

    @Test
    void aSecondProviderOfATypeIsRejectedNamingBoth() throws IOException {
        Path jar = jarNaming("twice.jar", SecondQuantize.class);

        ModelPressException e = catchThrowableOfType(ModelPressException.class, () -> withPath(jar.toString()));

        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("stage type 'quantize'", "contributed twice", CoreStages.Quantize.class.getName(),
                SecondQuantize.class.getName(), Stages.PATH_VARIABLE);
    }

    @Test
    void badTypeNamesAndStagePathEntriesAreNamed() throws IOException {
        Path jar = jarNaming("bad.jar", BadName.class);
        assertThat(catchThrowableOfType(ModelPressException.class, () -> withPath(jar.toString())).getMessage())
                .contains("'Quantize Twice'", BadName.class.getName(), "lower-case letters");

        Path missing = dir.resolve("no-such-folder");
        assertThat(catchThrowableOfType(ModelPressException.class, () -> withPath(missing.toString())).getMessage())
                .isEqualTo("TEST_STAGE_PATH: names " + missing + ", which is not there");
        Path text = Files.writeString(dir.resolve("stage.txt"), "x");
        assertThat(catchThrowableOfType(ModelPressException.class, () -> withPath(text.toString())).getMessage())
                .contains("neither a folder nor a .jar file");

        Path unloadable = dir.resolve("unloadable.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(unloadable))) {
            out.putNextEntry(new JarEntry("META-INF/services/" + StageProvider.class.getName()));
            out.write("org.example.Missing\n".getBytes(StandardCharsets.UTF_8));
        }
        assertThat(catchThrowableOfType(ModelPressException.class, () -> withPath(unloadable.toString())).getMessage())
                .startsWith("stage provider: cannot be loaded").contains("org.example.Missing");
    }

    @Test
    void theRecipeParserValidatesAContributedStagesKeys() throws IOException {
        StageRegistry registry = withPath(jarNaming("stamp.jar", Stamp.class).toString());

        Recipe recipe = RecipeParser.parse("stages:\n  - stamp: { mode: metadata }\n  - eval:\n", "r.yaml", registry);
        assertThat(recipe.stages().get(0).params()).containsEntry("mode", "metadata").containsEntry("text", "stamped")
                .containsEntry("key", "stamp");

        ModelPressException e = catchThrowableOfType(ModelPressException.class, () -> RecipeParser.parse("""
                stages:
                  - stamp: { text: a }
                  - stamp: { mode: doc-string, key: k, colour: red }
                  - stamp: { mode: sideways }
                """, "r.yaml", registry));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
        assertThat(e.getMessage()).contains("has 4 problems",
                "r.yaml:2:12 stages[0].stamp.mode: is required: one of doc-string, metadata",
                "stages[1].stamp.key: applies only to mode: metadata (this stage is mode: doc-string)",
                "stages[1].stamp.colour: unknown key; expected one of: mode, text, key",
                "stages[2].stamp.mode: expected one of: doc-string, metadata, found 'sideways'");

        ModelPressException withoutTheJar = catchThrowableOfType(ModelPressException.class,
                () -> RecipeParser.parse("stages:\n  - stamp: { mode: metadata }\n", "r.yaml"));
        assertThat(withoutTheJar.getMessage()).contains("stages[0].stamp: unknown stage type; expected one of: quantize, convert, prune, lowrank, eval");
    }

    @Test
    void recipeDocsListAContributedStagesKeys() throws IOException {
        StageRegistry registry = withPath(jarNaming("stamp.jar", Stamp.class).toString());

        String tables = RecipeDocs.tables(registry);

        assertThat(tables).startsWith(RecipeDocs.tables().substring(0, RecipeDocs.tables().indexOf("### `tuning`")))
                .contains("### `stamp`\n\n| key | accepts | default | modes | meaning |", "| `key` | a string | `stamp` | metadata | the metadata key |");
    }
}
