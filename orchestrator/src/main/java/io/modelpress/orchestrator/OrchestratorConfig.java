package io.modelpress.orchestrator;

import io.modelpress.pipeline.store.S3Config;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.Map;

/**
 * Everything the orchestrator reads from configuration (application.properties, overridable by environment
 * variables: {@code modelpress.stage.max-attempts} is {@code MODELPRESS_STAGE_MAX_ATTEMPTS}). See README.md.
 */
@ConfigMapping(prefix = "modelpress")
public interface OrchestratorConfig {

    /** The artifact store's keys ({@code modelpress.s3.*}), the same group in every ModelPress service. */
    S3Config s3();

    Intake intake();

    Stage stage();

    Run run();

    Metrics metrics();

    Topics topics();

    Api api();

    interface Api {
        /**
         * Who may call the REST API: entries {@code <roles>:<SHA-256 of the token, hex>}, roles joined by {@code +}
         * from read, submit and admin (e.g. {@code read+submit:3a7b...}); empty: loopback clients only ({@link ApiAuth}).
         */
        java.util.Optional<java.util.List<String>> tokens();
    }

    interface Intake {
        /** Where users drop models; only {@code .onnx} keys under it start runs. */
        @WithDefault("incoming/")
        String prefix();

        /** The recipe used when a drop has no sibling recipe.yaml; the built-in default when this object is absent. */
        @WithDefault("config/default-recipe.yaml")
        String defaultRecipeKey();

        Poller poller();

        interface Poller {
            /** Lists the intake prefix periodically: for S3 servers that publish no bucket notifications. */
            @WithDefault("true")
            boolean enabled();

            @WithDefault("5s")
            Duration interval();
        }
    }

    interface Stage {
        /** How long one attempt of a stage may take before it is retried or the run fails. */
        @WithDefault("30m")
        Duration timeout();

        /** Per stage type, e.g. {@code modelpress.stage.timeouts.eval=10m}; falls back to {@link #timeout()}. */
        Map<String, Duration> timeouts();

        /** Attempts in all for a stage whose failures are retryable or that times out. */
        @WithDefault("3")
        int maxAttempts();

        /**
         * A RUNNING attempt whose worker has sent no event (progress or heartbeat) for this long is stalled: it is
         * given up and the stage requested again as the next attempt, for another worker of its type. Workers send a
         * heartbeat every {@code modelpress.worker.heartbeat-interval} (10 s); keep this at three of those or more.
         */
        @WithDefault("60s")
        Duration stallAfter();

        default Duration timeoutFor(String type) {
            return timeouts().getOrDefault(type, timeout());
        }
    }

    interface Run {
        /** How often deadlines are checked and interrupted work (preparing inputs, writing results) is retried. */
        @WithDefault("1s")
        Duration tick();

        /** Pause between retries of preparing a run's inputs or writing its results after a transient failure. */
        @WithDefault("10s")
        Duration retryDelay();

        /** A run that cannot get its inputs copied within this time fails. */
        @WithDefault("10m")
        Duration prepareTimeout();
    }

    interface Metrics {
        /** How long per-run series (model bytes, compression ratio, quality delta) stay after a run ends. */
        @WithDefault("5m")
        Duration runSeriesRetention();
    }

    interface Topics {
        /** Partitions of the topics the orchestrator creates when missing (stage topics scale workers by partition). */
        @WithDefault("4")
        int partitions();

        @WithDefault("1")
        short replicationFactor();

        /** Create missing topics at start-up (the runs topic always with cleanup.policy=compact). */
        @WithDefault("true")
        boolean create();
    }
}
