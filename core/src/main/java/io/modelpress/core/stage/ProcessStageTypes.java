package io.modelpress.core.stage;

import io.modelpress.core.recipe.Param;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.recipe.StageTypes;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** This process's stage types ({@link Stages#registry()}) as the recipe parser sees them, registered in META-INF/services. */
public final class ProcessStageTypes implements StageTypes {
    @Override
    public Set<String> types() {
        return Stages.types();
    }

    @Override
    public boolean has(String type) {
        return Stages.registry().has(type);
    }

    @Override
    public Map<String, Param> parameters(String type) {
        return Stages.parameters(type);
    }

    @Override
    public List<String> problems(StageSpec spec) {
        return Stages.registry().problems(spec);
    }

    @Override
    public List<io.modelpress.core.recipe.TuningAxis> tuningAxes(StageSpec spec) {
        return Stages.registry().tuningAxes(spec);
    }
}
