package io.modelpress.core.stage;

import io.modelpress.core.recipe.Param;

import java.util.Map;
import java.util.Set;

/**
 * The stage types of this process: workers, the CLI and the recipe parser find stages here and nowhere else. They
 * are found once, by {@link java.util.ServiceLoader} ({@link StageProvider}), on core's class path and in the jars
 * named by the environment variable {@value #PATH_VARIABLE} (see {@link StageRegistry#withStagePath}), so a module
 * that core does not know - {@code train}'s distillation, an operator's own stage - adds a stage type without a change
 * here.
 */
public final class Stages {
    /** Jar files, or folders of jars, with more stage types: {@code /opt/modelpress/stages:/opt/extra.jar}. */
    public static final String PATH_VARIABLE = "MODELPRESS_STAGE_PATH";

    private static volatile StageRegistry registry;

    private Stages() {
    }

    /** The stage types found (once; a failed search, such as a duplicate type, is reported again on every call). */
    public static StageRegistry registry() {
        StageRegistry found = registry;
        if (found == null) {
            synchronized (Stages.class) {
                found = registry;
                if (found == null) {
                    ClassLoader core = StageProvider.class.getClassLoader();
                    found = StageRegistry.load(StageRegistry.withStagePath(System.getenv(PATH_VARIABLE), PATH_VARIABLE, core));
                    registry = found;
                }
            }
        }
        return found;
    }

    /** The stage of a type; a clear BAD_RECIPE error for a type that is unknown or not available in this version. */
    public static Stage forType(String type) {
        return registry().stage(type);
    }

    /** Every stage type found, in the order found. */
    public static Set<String> types() {
        return registry().types();
    }

    /** The recipe keys of a stage type. */
    public static Map<String, Param> parameters(String type) {
        return registry().parameters(type);
    }
}
