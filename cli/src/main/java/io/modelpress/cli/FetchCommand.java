package io.modelpress.cli;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.report.RunReports;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.pipeline.store.StoredObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "fetch", mixinStandardHelpOptions = true,
        description = "Download a finished run's outputs (model.onnx, report.json, report.html from outgoing/<name>/<run>/), "
                + "each verified against its SHA-256, and print the report's highlights.")
final class FetchCommand implements Callable<Integer> {
    @Parameters(paramLabel = "RUN", description = "the run id")
    String runId;

    @Option(names = "--out", paramLabel = "DIR", description = "where to put the files (default: out/<run>)")
    Path out;

    @Option(names = "--s3-endpoint", paramLabel = "URL", description = "S3 endpoint (default: $MODELPRESS_S3_ENDPOINT, else the local stack's)")
    String s3Endpoint;

    @Option(names = "--bucket", paramLabel = "B", description = "bucket (default: $MODELPRESS_S3_BUCKET, else the local stack's)")
    String bucket;

    @Mixin
    StackOptions stack;

    @Override
    public Integer call() {
        PrintWriter stdout = stack.out();
        RunState run = stack.apiClient().run(runId);
        Path target = out != null ? out : Path.of("out", runId);
        List<Path> files;
        try (ArtifactStore store = new ArtifactStore(s3Settings())) {
            files = fetch(store, run, target, stdout);
        }
        Path report = target.resolve(RunReports.JSON_FILE);
        if (files.contains(report)) {
            ReportPrinter.printFile(report, stdout);
        }
        return 0;
    }

    /** Downloads every object under the run's outgoing prefix into {@code target}; returns the files written. */
    static List<Path> fetch(ArtifactStore store, RunState run, Path target, PrintWriter out) {
        if (run.outgoing() == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "run " + run.runId(), "has no outputs (it is " + run.state()
                    + (run.error() == null ? "" : ": " + run.error()) + "); outputs exist once a run has SUCCEEDED");
        }
        List<StoredObject> objects = store.list(run.outgoing());
        if (objects.isEmpty()) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "s3://" + store.bucket() + "/" + run.outgoing(), "holds no objects");
        }
        List<Path> files = new ArrayList<>();
        for (StoredObject object : objects) {
            String relative = object.key().substring(run.outgoing().length());
            Path file = target.resolve(relative).normalize();
            if (!file.startsWith(target.normalize()) || relative.isBlank()) {
                continue;
            }
            ArtifactRef ref = store.stat(object.key()).orElseThrow(() -> new ModelPressException(ErrorCode.IO_ERROR,
                    "s3://" + store.bucket() + "/" + object.key(), "disappeared while fetching"));
            if (ref.sha256() == null) {
                throw new ModelPressException(ErrorCode.IO_ERROR, "s3://" + store.bucket() + "/" + object.key(),
                        "has no SHA-256 in its metadata, so its download cannot be verified");
            }
            store.get(ref, file);
            files.add(file);
            out.println("fetched s3://" + store.bucket() + "/" + object.key() + " -> " + file + " (" + Format.bytes(ref.bytes()) + ")");
        }
        out.flush();
        return files;
    }

    private S3Settings s3Settings() {
        Endpoints local = stack.s3Endpoints();
        String endpoint = first(s3Endpoint, System.getenv("MODELPRESS_S3_ENDPOINT"), local == null ? null : local.s3Endpoint());
        String access = first(System.getenv("MODELPRESS_S3_ACCESS_KEY"), local == null ? null : local.s3AccessKey());
        String secret = first(System.getenv("MODELPRESS_S3_SECRET_KEY"), local == null ? null : local.s3SecretKey());
        String bucketName = first(bucket, System.getenv("MODELPRESS_S3_BUCKET"), local == null ? null : local.bucket());
        if (endpoint == null || access == null || secret == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "S3", "is not configured: start the local stack (./modelpress up), "
                    + "or set MODELPRESS_S3_ENDPOINT, MODELPRESS_S3_ACCESS_KEY and MODELPRESS_S3_SECRET_KEY");
        }
        return S3Settings.of(endpoint, access, secret, bucketName);
    }

    private static String first(String... values) {
        for (String value : values) {
            if (value != null && !value.isBlank()) {
                return value;
            }
        }
        return null;
    }
}
