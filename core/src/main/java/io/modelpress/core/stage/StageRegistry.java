package io.modelpress.core.stage;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.recipe.Param;
import io.modelpress.core.recipe.RecipeSchema;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.recipe.StageTypes;

import java.io.File;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The stage types that {@link ServiceLoader} finds through one class loader, in the order found (core's first when
 * core is on the parent class loader). Type names must be unique: a second provider of a type is an error that
 * names both, never a silent choice. Each stage is made on first use and kept.
 */
public final class StageRegistry implements StageTypes {
    private static final Pattern TYPE_NAME = Pattern.compile("[a-z][a-z0-9-]{0,39}");

    private final Map<String, StageProvider> providers;
    private final Map<String, Stage> stages = new ConcurrentHashMap<>();

    private StageRegistry(Map<String, StageProvider> providers) {
        this.providers = Collections.unmodifiableMap(providers);
    }

    /** The providers that {@code loader} (and its parents) name in {@code META-INF/services}. */
    public static StageRegistry load(ClassLoader loader) {
        Map<String, StageProvider> found = new LinkedHashMap<>();
        Iterator<StageProvider> providers = ServiceLoader.load(StageProvider.class, loader).iterator();
        while (true) {
            StageProvider provider;
            try {
                if (!providers.hasNext()) {
                    break;
                }
                provider = providers.next();
            } catch (ServiceConfigurationError e) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "stage provider", "cannot be loaded: " + e.getMessage(), e);
            }
            String type = provider.type();
            if (type == null || !TYPE_NAME.matcher(type).matches()) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "stage type '" + type + "' of " + origin(provider),
                        "is not a valid name: 1 to 40 lower-case letters, digits and dashes, starting with a letter");
            }
            StageProvider before = found.putIfAbsent(type, provider);
            if (before != null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "stage type '" + type + "'", "is contributed twice: by "
                        + origin(before) + " and by " + origin(provider) + "; keep one of them on the class path and "
                        + Stages.PATH_VARIABLE);
            }
        }
        return new StageRegistry(found);
    }

    /**
     * A class loader that adds the jars of a stage path to {@code parent}: entries separated by the platform's path
     * separator, each a jar file or a folder whose {@code *.jar} files are all taken (a stage with libraries of its
     * own ships them beside it). Returns {@code parent} for an empty path.
     *
     * @param variable names the path's source in errors
     */
    public static ClassLoader withStagePath(String path, String variable, ClassLoader parent) {
        if (path == null || path.isBlank()) {
            return parent;
        }
        List<URL> jars = new ArrayList<>();
        for (String entry : path.split(Pattern.quote(File.pathSeparator))) {
            if (entry.isBlank()) {
                continue;
            }
            Path file = Path.of(entry.trim());
            if (Files.isDirectory(file)) {
                try (Stream<Path> files = Files.list(file)) {
                    for (Path jar : files.filter(f -> f.getFileName().toString().endsWith(".jar")).sorted().toList()) {
                        jars.add(url(jar));
                    }
                } catch (IOException e) {
                    throw new ModelPressException(ErrorCode.BAD_ARGUMENT, variable, "folder " + file + " cannot be listed: " + e.getMessage(), e);
                }
            } else if (Files.isRegularFile(file) && file.getFileName().toString().endsWith(".jar")) {
                jars.add(url(file));
            } else {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, variable, "names " + file + ", which is "
                        + (Files.exists(file) ? "neither a folder nor a .jar file" : "not there"));
            }
        }
        return new URLClassLoader("modelpress-stages", jars.toArray(URL[]::new), parent);
    }

    private static URL url(Path jar) {
        try {
            return jar.toAbsolutePath().toUri().toURL();
        } catch (MalformedURLException e) {
            throw new IllegalArgumentException(jar.toString(), e);
        }
    }

    /** A provider's class and the jar or folder it came from, for errors. */
    private static String origin(StageProvider provider) {
        CodeSource source = provider.getClass().getProtectionDomain().getCodeSource();
        return provider.getClass().getName() + (source == null || source.getLocation() == null ? "" : " (" + source.getLocation() + ")");
    }

    /** The stage types found, in the order found. */
    @Override
    public Set<String> types() {
        return providers.keySet();
    }

    @Override
    public boolean has(String type) {
        return providers.containsKey(type);
    }

    /** The recipe keys of a stage type. */
    @Override
    public Map<String, Param> parameters(String type) {
        return provider(type).parameters();
    }

    /** What the type's provider finds wrong across the keys of a parsed stage ({@link StageProvider#problems}). */
    @Override
    public List<String> problems(StageSpec spec) {
        return provider(spec.type()).problems(spec);
    }

    @Override
    public List<io.modelpress.core.recipe.TuningAxis> tuningAxes(StageSpec spec) {
        return provider(spec.type()).tuningAxes(spec);
    }

    /** The stage of a type, made on first use. */
    public Stage stage(String type) {
        StageProvider provider = provider(type);
        return stages.computeIfAbsent(type, t -> provider.stage());
    }

    private StageProvider provider(String type) {
        StageProvider provider = providers.get(type);
        if (provider == null) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, "stage type '" + type + "'", RecipeSchema.PLANNED.contains(type)
                    ? "is not available in this version yet; available: " + String.join(", ", types())
                    : "is unknown; known: " + String.join(", ", types()) + " (stage types come from the class path and "
                    + Stages.PATH_VARIABLE + ")");
        }
        return provider;
    }
}
