package io.modelpress.pipeline.testing;

import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.worker.WorkerConfig;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.util.Map;

/** Hands the test JVM's devstack (a real Kafka broker and S3 server) to the application under test. */
public class DevStackResource implements QuarkusTestResourceLifecycleManager {
    @Override
    public Map<String, String> start() {
        Endpoints endpoints = DevStack.shared();
        return Map.of(
                "kafka.bootstrap.servers", endpoints.kafkaBootstrapServers(),
                WorkerConfig.S3_ENDPOINT, endpoints.s3Endpoint(),
                WorkerConfig.S3_ACCESS_KEY, endpoints.s3AccessKey(),
                WorkerConfig.S3_SECRET_KEY, endpoints.s3SecretKey(),
                WorkerConfig.S3_BUCKET, endpoints.bucket());
    }

    @Override
    public void stop() {
        // the shared stack stops when the test JVM exits
    }
}
