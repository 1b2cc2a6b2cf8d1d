package io.modelpress.stack;

import java.nio.file.Path;

/**
 * The ModelPress services the launcher runs as processes: each a Quarkus fast-jar with its HTTP port (REST API,
 * health, metrics). Kafka and S3 come from devstack, which manages its own processes.
 *
 * @param module      the Maven module (folder) that builds it
 * @param defaultPort its HTTP port unless told otherwise
 * @param heap        the JVM's -Xmx: the workers hold a model and ONNX Runtime's buffers beside it
 */
public enum Service {
    ORCHESTRATOR("orchestrator", "orchestrator", 8080, "512m"),
    QUANTIZE_WORKER("quantize-worker", "quantize-worker", 8082, "2g"),
    EVAL_WORKER("eval-worker", "eval-worker", 8084, "2g"),
    PRUNE_WORKER("prune-worker", "prune-worker", 8086, "2g"),
    /** the samples of a distill stage are held on the heap; libtorch's tensors are native memory beside it */
    DISTILL_WORKER("distill-worker", "distill-worker", 8087, "3g");

    private final String id;
    private final String module;
    private final int defaultPort;
    private final String heap;

    Service(String id, String module, int defaultPort, String heap) {
        this.id = id;
        this.module = module;
        this.defaultPort = defaultPort;
        this.heap = heap;
    }

    /** The name used in messages, log files ({@code <id>.log}) and pid files ({@code <id>.pid}). */
    public String id() {
        return id;
    }

    public String module() {
        return module;
    }

    public int defaultPort() {
        return defaultPort;
    }

    public String heap() {
        return heap;
    }

    /** The packaged application under the project root. */
    public Path jar(Path projectRoot) {
        return projectRoot.resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
    }

    public static Service byId(String id) {
        for (Service service : values()) {
            if (service.id.equals(id)) {
                return service;
            }
        }
        throw new IllegalArgumentException("unknown service '" + id + "'");
    }
}
