package io.modelpress.worker;

import io.modelpress.pipeline.Topics;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.PropertiesConfigSource;
import org.eclipse.microprofile.config.spi.ConfigSource;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The topics a worker consumes, following from the stage types it runs: {@code modelpress.worker.stage-types=quantize,convert}
 * gives {@code mp.messaging.incoming.requests.topics=modelpress.stage.quantize,modelpress.stage.convert}, and the
 * dead-letter channel's default topic is the first type's. Its ordinal ({@value #ORDINAL}) is below every
 * configuration file's, so topics set anywhere else win; {@link WorkerWiring} then checks that they are the same.
 * Registered in META-INF/services/io.smallrye.config.ConfigSourceFactory.
 */
public class StageTopicsConfigSource implements ConfigSourceFactory {
    public static final String STAGE_TYPES = "modelpress.worker.stage-types";
    public static final String TOPICS = "mp.messaging.incoming.requests.topics";
    static final String DEAD_LETTER_TOPIC = "mp.messaging.outgoing.dead-letters.topic";
    static final int ORDINAL = 50;

    @Override
    public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
        ConfigValue types = context.getValue(STAGE_TYPES);
        List<String> stageTypes = types == null || types.getValue() == null ? List.of() : split(types.getValue());
        if (stageTypes.isEmpty()) {
            return List.of(); // the worker's configuration mapping reports the missing key
        }
        return List.of(new PropertiesConfigSource(Map.of(TOPICS, topics(stageTypes), DEAD_LETTER_TOPIC,
                Topics.deadLetters(stageTypes.get(0))), "topics of " + STAGE_TYPES, ORDINAL));
    }

    private static List<String> split(String list) {
        return Arrays.stream(list.split(",")).map(String::trim).filter(type -> !type.isEmpty()).toList();
    }

    /** The request topics of the given stage types, comma-separated. */
    static String topics(Collection<String> stageTypes) {
        return stageTypes.stream().map(Topics::stage).collect(Collectors.joining(","));
    }
}
