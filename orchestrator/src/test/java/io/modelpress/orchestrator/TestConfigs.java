package io.modelpress.orchestrator;

import java.lang.reflect.Proxy;
import java.time.Duration;

/** Configurations for unit tests of beans outside Quarkus. */
final class TestConfigs {
    private TestConfigs() {
    }

    static OrchestratorConfig withRunRetention(Duration retention) {
        OrchestratorConfig.Metrics metrics = () -> retention;
        return (OrchestratorConfig) Proxy.newProxyInstance(TestConfigs.class.getClassLoader(),
                new Class<?>[] {OrchestratorConfig.class}, (proxy, method, args) -> {
                    if (method.getName().equals("metrics")) {
                        return metrics;
                    }
                    throw new UnsupportedOperationException("not configured in this test: " + method.getName());
                });
    }
}
