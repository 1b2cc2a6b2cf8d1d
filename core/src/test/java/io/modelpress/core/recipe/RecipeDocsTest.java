package io.modelpress.core.recipe;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class RecipeDocsTest {
    @Test
    void docsListEveryKeyTheParserAccepts() throws Exception {
        Path docs = Path.of(System.getProperty("maven.multiModuleProjectDirectory", ".."), "docs", "recipes.md");
        if (!Files.exists(docs)) {
            docs = Path.of("..", "docs", "recipes.md");
        }
        String text = Files.readString(docs);
        assertThat(text).as("docs/recipes.md is stale: regenerate its tables with RecipeDocs.main").contains(RecipeDocs.tables());
    }
}
