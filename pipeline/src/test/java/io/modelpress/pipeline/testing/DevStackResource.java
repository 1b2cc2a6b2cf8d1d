package io.modelpress.pipeline.testing;

import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.util.Map;

/** Hands the test JVM's devstack (a real Kafka broker and S3 server) to the application under test. */
public class DevStackResource implements QuarkusTestResourceLifecycleManager {
    @Override
    public Map<String, String> start() {
        Endpoints endpoints = DevStack.shared();
        return Map.of(
                "kafka.bootstrap.servers", endpoints.kafkaBootstrapServers(),
                "modelpress.s3.endpoint", endpoints.s3Endpoint(),
                "modelpress.s3.access-key", endpoints.s3AccessKey(),
                "modelpress.s3.secret-key", endpoints.s3SecretKey(),
                "modelpress.s3.bucket", endpoints.bucket());
    }

    @Override
    public void stop() {
        // the shared stack stops when the test JVM exits
    }
}
