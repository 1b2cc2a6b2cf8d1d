package io.modelpress.core.prune.importance;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.Function;

/**
 * The importance criteria by name: core's own (l1, l2, bn_scale, activation) and those other modules on the class
 * path offer. A criterion a recipe may name but whose module is not on this process's class path is refused with a
 * message saying where it runs.
 */
public final class Criteria {
    /** Criteria other modules offer, and what a process needs to have them. */
    private static final Map<String, String> ELSEWHERE = Map.of("taylor",
            "the train module (DJL's PyTorch engine), which `modelpress compress` has and the prune-worker does not");

    private static final Map<String, ImportanceProvider> PROVIDERS = load();

    private Criteria() {
    }

    private static Map<String, ImportanceProvider> load() {
        Map<String, ImportanceProvider> providers = new LinkedHashMap<>();
        for (ImportanceProvider p : List.of(
                builtIn("l1", false, c -> new MagnitudeImportance(c.model(), c.graph(), 1)),
                builtIn("l2", false, c -> new MagnitudeImportance(c.model(), c.graph(), 2)),
                builtIn("bn_scale", false, c -> new BnScaleImportance(c.model(), c.graph())),
                builtIn("activation", true, c -> new ActivationImportance(c.model(), c.graph(), c.data(), c.samples(), c.threads()))))  {
            providers.put(p.name(), p);
        }
        for (ImportanceProvider p : ServiceLoader.load(ImportanceProvider.class, Criteria.class.getClassLoader())) {
            providers.putIfAbsent(p.name(), p);
        }
        return providers;
    }

    /** Every name a recipe may give: those here and those other modules offer. */
    public static List<String> names() {
        List<String> names = new ArrayList<>(PROVIDERS.keySet());
        ELSEWHERE.keySet().stream().filter(n -> !names.contains(n)).sorted().forEach(names::add);
        return names;
    }

    /**
     * The criterion of that name.
     *
     * @throws ModelPressException BAD_ARGUMENT for a name no module offers, UNSUPPORTED for one whose module this
     *                             process lacks
     */
    public static ImportanceProvider get(String name) {
        ImportanceProvider provider = PROVIDERS.get(name);
        if (provider != null) {
            return provider;
        }
        if (ELSEWHERE.containsKey(name)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "criterion " + name, "needs " + ELSEWHERE.get(name)
                    + "; this process offers " + String.join(", ", PROVIDERS.keySet()));
        }
        throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "criterion", "must be one of " + String.join(", ", names())
                + "; got '" + name + "'");
    }

    private static ImportanceProvider builtIn(String name, boolean needsData, Function<ImportanceProvider.Context, Importance> factory) {
        return new ImportanceProvider() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public boolean needsData() {
                return needsData;
            }

            @Override
            public Importance create(Context context) {
                return factory.apply(context);
            }
        };
    }
}
