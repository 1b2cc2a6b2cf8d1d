package io.modelpress.bench;

import io.modelpress.core.ReferenceModels;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.stack.ApiClient;
import io.modelpress.stack.DemoJob;
import io.modelpress.stack.Service;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.stack.Stack;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The pipeline's own overhead: for all-MiniLM-L6-v2 under the demo's recipe (dynamic INT8 + eval), how much of each
 * stage is spent handing the model over (S3 download and upload in the worker, Kafka delivery and scheduling) rather
 * than in the pass itself, and how many runs per minute the local stack completes with one worker of each type.
 *
 * <p>Starts its own stack: devstack on free ports and the packaged orchestrator, quantize-worker and eval-worker as
 * processes (tied to this JVM). Runs {@code --warmup} runs that are not counted, {@code --runs} runs one after another
 * (per-stage breakdown), then {@code --batch} runs submitted back to back (throughput). Writes a markdown table.
 *
 * <p>Options: {@code --runs N} (3), {@code --warmup N} (1), {@code --batch N} (4), {@code --recipe FILE} (the demo's),
 * {@code --out FILE} (bench/results/pipeline.md), {@code --cache on|off} (off: the workers' result cache is switched
 * off so that every stage is computed; on: the cache is emptied first and the report compares each run with the
 * first - use {@code --warmup 0 --batch 0}).
 */
public final class PipelineBench {
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(20);

    /**
     * One stage of one run, in milliseconds. The wall runs from the orchestrator dispatching the request to it
     * handling the result; the worker reports download, run and upload; the stage-results topic gives the time of the
     * worker's first progress event (sent as it starts downloading) and of its final result.
     */
    record StageTimes(String type, long wall, long download, long run, long upload, long requestDelivery, long resultDelivery) {
        long handoff() {
            return download + upload;
        }

        /** Everything but the hand-off and the pass: Kafka both ways, and the worker's and orchestrator's bookkeeping. */
        long kafka() {
            return wall - download - run - upload;
        }

        /** In the worker outside download, run and upload: the duplicate check, stage.json, publishing the result. */
        long workerBookkeeping() {
            return kafka() - requestDelivery - resultDelivery;
        }
    }

    /** One run, in milliseconds. */
    record RunTimes(long submit, long total, long publish, List<StageTimes> stages) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = options(args);
        int runs = Integer.parseInt(options.getOrDefault("runs", "3"));
        int warmup = Integer.parseInt(options.getOrDefault("warmup", "1"));
        int batch = Integer.parseInt(options.getOrDefault("batch", "4"));
        Path root = Path.of(System.getProperty("modelpress.home", ".")).toAbsolutePath().normalize();
        Path out = options.containsKey("out") ? Path.of(options.get("out")) : root.resolve("bench/results/pipeline.md");
        String recipeText = options.containsKey("recipe") ? Files.readString(Path.of(options.get("recipe"))) : DemoJob.RECIPE;
        System.setProperty(ReferenceModels.CACHE_PROPERTY, System.getProperty(ReferenceModels.CACHE_PROPERTY,
                root.resolve("target/models").toString()));

        for (Service service : Service.values()) {
            if (!Files.isRegularFile(service.jar(root))) {
                throw new IllegalStateException(service.jar(root) + " is missing; run ./mvnw -q -pl bench -am package -DskipTests from " + root);
            }
        }
        PrintWriter log = new PrintWriter(System.out, true);
        String machine = Machine.describe();
        log.println("machine: " + machine);
        Endpoints endpoints = DevStack.shared();
        Stack stack = Stack.tiedToThisJvm(root, root.resolve("bench/target/pipeline-stack"));
        boolean cache = "on".equals(options.getOrDefault("cache", "off"));
        if (cache) {
            clearResultCache(endpoints);
        } else {
            // the hand-off figures are of stages computed, not answered from an earlier run's result
            for (Service service : Service.values()) {
                if (service != Service.ORCHESTRATOR) {
                    stack.withEnv(service, Map.of("MODELPRESS_WORKER_CACHE_MAX_BYTES", "0"));
                }
            }
        }
        stack.startServices(endpoints, log);
        Path model = ReferenceModels.minilm();
        Path tokenizer = ReferenceModels.minilmTokenizer();
        Path data = root.resolve(DemoJob.DATA);
        Path recipe = Files.createTempFile("pipeline-bench-", ".yaml");
        Files.writeString(recipe, recipeText, StandardCharsets.UTF_8);
        ApiClient.Submission job = new ApiClient.Submission(model, recipe, null, List.of(data), tokenizer, DemoJob.NAME);
        ApiClient api = stack.apiClient();
        List<RunTimes> measured = new ArrayList<>();
        double batchSeconds;
        try (StageEvents events = new StageEvents(endpoints.kafkaBootstrapServers())) {
            for (int i = 0; i < warmup; i++) {
                log.println("warm-up run " + (i + 1) + "/" + warmup + " ...");
                measure(api, events, job);
            }
            for (int i = 0; i < runs; i++) {
                RunTimes times = measure(api, events, job);
                log.printf(Locale.ROOT, "run %d/%d: %.1f s%n", i + 1, runs, times.total() / 1000.0);
                measured.add(times);
            }

            log.println(batch + " runs submitted back to back ...");
            long start = System.nanoTime();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                ids.add(api.submit(job).runId());
            }
            for (String id : ids) {
                requireSucceeded(awaitEnd(api, id));
            }
            batchSeconds = (System.nanoTime() - start) / 1e9;
        } finally {
            stack.stopServices(log);
            Files.deleteIfExists(recipe);
        }

        String report = cache ? cacheReport(machine, recipeText, measured)
                : report(machine, recipeText, Files.size(model), warmup, measured, batch, batchSeconds);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, report, StandardCharsets.UTF_8);
        log.println();
        log.print(report);
        log.println("written to " + out);
        System.exit(0);
    }

    /** Deletes the workers' result cache in the bucket, so that the first measured run computes every stage. */
    private static void clearResultCache(Endpoints endpoints) {
        try (ArtifactStore store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(),
                endpoints.s3SecretKey(), endpoints.bucket()))) {
            store.ensureBucket();
            store.list("cache/").forEach(object -> store.delete(object.key()));
        }
    }

    /** With the result cache on: the same job run after run, the first computed, the next ones from the cache. */
    static String cacheReport(String machine, String recipe, List<RunTimes> runs) {
        StringBuilder md = new StringBuilder("# Pipeline result cache\n\n");
        md.append("Measured ").append(Machine.date()).append(" on ").append(machine).append(".\n")
                .append("Command: `./mvnw -q -pl bench -am package -DskipTests && java -jar bench/target/modelpress-bench.jar "
                        + "PipelineBench --cache on --warmup 0 --runs 2 --batch 0 --out bench/results/pipeline-cache.md`\n\n")
                .append("Job: all-MiniLM-L6-v2 with its tokenizer and the demo's sentences, recipe:\n\n```yaml\n").append(recipe)
                .append("```\n\nsubmitted through the API of the local stack (one worker of each type, the workers' result cache "
                        + "in the bucket emptied first), the same job again after the first ended. Wall time from the run's "
                        + "creation to its end:\n\n| run | wall | of the first | stage run times (worker) |\n|---|---|---|---|\n");
        for (int i = 0; i < runs.size(); i++) {
            RunTimes run = runs.get(i);
            md.append(String.format(Locale.ROOT, "| %d | %.2f s | %.1f %% | %s |%n", i + 1, run.total() / 1000.0,
                    100.0 * run.total() / runs.get(0).total(), String.join(", ", run.stages().stream()
                            .map(st -> String.format(Locale.ROOT, "%s %.2f s", st.type(), st.run() / 1000.0)).toList())));
        }
        return md.append("\nA stage answered from the cache downloads and runs nothing: its model is copied inside S3 and its "
                + "report (marked `\"cache\": \"hit\"`) re-published.\n").toString();
    }

    private static RunTimes measure(ApiClient api, StageEvents events, ApiClient.Submission job) {
        long start = System.nanoTime();
        RunState submitted = api.submit(job);
        long submitMs = (System.nanoTime() - start) / 1_000_000;
        RunState run = requireSucceeded(awaitEnd(api, submitted.runId()));
        List<StageTimes> stages = new ArrayList<>();
        for (StageStatus stage : run.stages()) {
            StageResult.Timings t = stage.timings();
            List<StageResult> reported = events.of(run.runId(), stage.index(), stage.attempt());
            Instant firstProgress = reported.stream().filter(r -> r.status() == StageResult.Status.PROGRESS).map(StageResult::time)
                    .min(Instant::compareTo).orElseThrow(() -> new IllegalStateException("no progress event for " + run.runId()));
            Instant result = reported.stream().filter(StageResult::isFinal).map(StageResult::time).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no final result for " + run.runId()));
            stages.add(new StageTimes(stage.type(), Duration.between(stage.startedAt(), stage.finishedAt()).toMillis(),
                    t.downloadMs(), t.runMs(), t.uploadMs(), Duration.between(stage.startedAt(), firstProgress).toMillis(),
                    Duration.between(result, stage.finishedAt()).toMillis()));
        }
        StageStatus last = run.stages().get(run.stages().size() - 1);
        return new RunTimes(submitMs, Duration.between(run.createdAt(), run.updatedAt()).toMillis(),
                Duration.between(last.finishedAt(), run.updatedAt()).toMillis(), stages);
    }

    private static RunState awaitEnd(ApiClient api, String runId) {
        long deadline = System.nanoTime() + RUN_TIMEOUT.toNanos();
        while (true) {
            RunState run = api.run(runId);
            if (run.state().terminal()) {
                return run;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("run " + runId + " did not end within " + RUN_TIMEOUT);
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    private static RunState requireSucceeded(RunState run) {
        if (run.state() != RunState.State.SUCCEEDED) {
            throw new IllegalStateException("run " + run.runId() + " ended " + run.state() + ": " + run.error());
        }
        return run;
    }

    static String report(String machine, String recipe, long modelBytes, int warmup, List<RunTimes> runs, int batch, double batchSeconds) {
        StringBuilder md = new StringBuilder();
        md.append("# Pipeline benchmark: the pipeline's own overhead\n\n");
        md.append("Measured ").append(Machine.date()).append(" on ").append(machine).append(".\n\n");
        md.append(String.format(Locale.ROOT, "Job: all-MiniLM-L6-v2 (fp32, %.1f MB) with its tokenizer and `%s`, submitted through "
                + "the REST API (multipart upload), under this recipe:\n\n", modelBytes / 1e6, DemoJob.DATA));
        md.append("```yaml\n").append(recipe.strip()).append("\n```\n\n");
        md.append("Stack: devstack (Kafka 4.1.2 in KRaft mode, S3Proxy 4.1.0 on the local file system) and one orchestrator, one "
                + "quantize-worker and one eval-worker, each a local process (the packaged fast-jars), all on this one machine. ");
        md.append(String.format(Locale.ROOT, "%d warm-up run%s, then %d runs one after another; mean (min-max) in seconds.%n%n",
                warmup, warmup == 1 ? "" : "s", runs.size()));

        md.append("## Per stage\n\n");
        md.append("Overhead share = (S3 download + S3 upload + Kafka and scheduling) / wall. The worker reports download, pass and "
                + "upload; the wall comes from the orchestrator's timestamps.\n\n");
        md.append("| stage | wall: dispatched -> result handled | pass (worker's run) | S3 download | S3 upload | Kafka + scheduling | overhead share |\n");
        md.append("|---|---|---|---|---|---|---|\n");
        int stageCount = runs.get(0).stages().size();
        for (int s = 0; s < stageCount; s++) {
            int index = s;
            List<StageTimes> all = runs.stream().map(r -> r.stages().get(index)).toList();
            double overhead = mean(all, t -> t.handoff() + t.kafka()) / mean(all, StageTimes::wall);
            md.append(String.format(Locale.ROOT, "| %d %s | %s | %s | %s | %s | %s | %.1f%% |%n", s, all.get(0).type(),
                    spread(all, StageTimes::wall), spread(all, StageTimes::run), spread(all, StageTimes::download),
                    spread(all, StageTimes::upload), spread(all, StageTimes::kafka), 100 * overhead));
        }
        md.append("\nWhere the Kafka + scheduling time goes (from the events' own times on the stage-results topic; one clock, one machine):\n\n");
        md.append("| stage | request: dispatched -> worker starts downloading | worker bookkeeping (duplicate check, stage.json, publish) | result: published -> handled by the orchestrator |\n");
        md.append("|---|---|---|---|\n");
        for (int s = 0; s < stageCount; s++) {
            int index = s;
            List<StageTimes> all = runs.stream().map(r -> r.stages().get(index)).toList();
            md.append(String.format(Locale.ROOT, "| %d %s | %s | %s | %s |%n", s, all.get(0).type(), spread(all, StageTimes::requestDelivery),
                    spread(all, StageTimes::workerBookkeeping), spread(all, StageTimes::resultDelivery)));
        }
        md.append("\n## Per run\n\n| part | seconds |\n|---|---|\n");
        md.append("| submit: upload through the API into S3 (client side) | ").append(spread(runs, RunTimes::submit)).append(" |\n");
        md.append("| stages (sum of the walls above) | ").append(spread(runs, r -> r.stages().stream().mapToLong(StageTimes::wall).sum())).append(" |\n");
        md.append("| publish: model copied to outgoing/, report.json and report.html written | ").append(spread(runs, RunTimes::publish)).append(" |\n");
        md.append("| total: created -> SUCCEEDED | ").append(spread(runs, RunTimes::total)).append(" |\n");
        double passes = mean(runs, r -> r.stages().stream().mapToLong(StageTimes::run).sum());
        double total = mean(runs, RunTimes::total);
        md.append(String.format(Locale.ROOT, "%nThe passes themselves take %.1f%% of a run's time (created -> SUCCEEDED); the rest, "
                + "%.1f s, is the pipeline: S3 hand-offs, Kafka, scheduling and publishing the outputs. The upload before the run "
                + "exists (%.1f s for the model, tokenizer and data) comes on top.%n%n", 100 * passes / total, (total - passes) / 1000,
                mean(runs, RunTimes::submit) / 1000));
        md.append("## Throughput\n\n");
        double slowest = 0;
        for (int s = 0; s < stageCount; s++) {
            int index = s;
            slowest = Math.max(slowest, mean(runs, r -> r.stages().get(index).wall()));
        }
        md.append(String.format(Locale.ROOT, "%d runs submitted back to back (uploads one after another), one worker of each type: "
                + "first upload started -> last run SUCCEEDED in %.1f s = **%.2f runs per minute**. Stages of different runs "
                + "overlap (one run's eval beside the next one's quantize), so the slowest stage (%.1f s alone) would allow %.1f "
                + "per minute; here all processes share the same %d cores, so overlapping stages slow each other down.%n%n",
                batch, batchSeconds, batch * 60 / batchSeconds, slowest / 1000, 60_000 / slowest,
                Runtime.getRuntime().availableProcessors()));
        md.append("Reproduce: `./mvnw -q -pl bench -am package -DskipTests && java -jar bench/target/modelpress-bench.jar PipelineBench`\n");
        return md.toString();
    }

    private static <T> double mean(List<T> values, ToDoubleFunction<T> f) {
        return values.stream().mapToDouble(f).average().orElse(Double.NaN);
    }

    private static <T> String spread(List<T> values, ToDoubleFunction<T> millis) {
        double mean = mean(values, millis) / 1000;
        double min = values.stream().mapToDouble(millis).min().orElse(Double.NaN) / 1000;
        double max = values.stream().mapToDouble(millis).max().orElse(Double.NaN) / 1000;
        return values.size() == 1 ? String.format(Locale.ROOT, "%.2f", mean)
                : String.format(Locale.ROOT, "%.2f (%.2f-%.2f)", mean, min, max);
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("options are --name value pairs: --runs N --warmup N --batch N --recipe FILE --out FILE --cache on|off");
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        return options;
    }

    private PipelineBench() {
    }
}
