package dev.cairn.server.monitoring;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.util.EnumSet;

/** The node's metrics wiring: one Prometheus registry for Cairn's meters, the JVM's and Vert.x's (GET /metrics). */
public final class Monitoring {

    private Monitoring() {
    }

    public static PrometheusMeterRegistry registry() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    /**
     * A Vert.x that reports its HTTP server and WebSocket, client pool (PostgreSQL) and worker
     * pool meters into {@code registry}. Labels are the bounded ones only: method, status code,
     * route pattern and pool; never a path, user or remote address.
     */
    public static Vertx vertx(PrometheusMeterRegistry registry) {
        MicrometerMetricsOptions metrics = new MicrometerMetricsOptions().setEnabled(true)
                .setLabels(EnumSet.of(Label.HTTP_METHOD, Label.HTTP_CODE, Label.HTTP_ROUTE, Label.POOL_TYPE, Label.POOL_NAME));
        return Vertx.builder().with(new VertxOptions().setMetricsOptions(metrics)).withMetrics(new MicrometerMetricsFactory(registry)).build();
    }
}
