package dev.cairn.server;

import dev.cairn.server.session.SessionMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;

/** The server's Prometheus metrics (GET /metrics). */
public final class ServerMetrics implements SessionMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicInteger sessions = registry.gauge("cairn_sessions", new AtomicInteger());
    private final Counter framesIn = registry.counter("cairn_frames_in_total");
    private final Counter framesOut = registry.counter("cairn_frames_out_total");
    private final Counter changesIn = registry.counter("cairn_changes_pushed_total");
    private final Counter changesCommitted = registry.counter("cairn_changes_committed_total");
    private final Counter rejected = registry.counter("cairn_batches_rejected_total");
    private final Timer commitTime = Timer.builder("cairn_commit_seconds").publishPercentiles(0.5, 0.99).register(registry);

    public ServerMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
    }

    public String scrape() {
        return registry.scrape();
    }

    /** Registers a gauge read at scrape time (the callers are event-loop confined; a stale read is fine). */
    public void gauge(String name, java.util.function.Supplier<Number> value) {
        io.micrometer.core.instrument.Gauge.builder(name, value).register(registry);
    }

    public Timer commitTimer() {
        return commitTime;
    }

    public void committed(int changes) {
        changesCommitted.increment(changes);
    }

    @Override
    public void sessionOpened() {
        sessions.incrementAndGet();
    }

    @Override
    public void sessionClosed() {
        sessions.decrementAndGet();
    }

    @Override
    public void frameIn() {
        framesIn.increment();
    }

    @Override
    public void frameOut() {
        framesOut.increment();
    }

    @Override
    public void changesIn(int count) {
        changesIn.increment(count);
    }

    @Override
    public void rejectedBatch() {
        rejected.increment();
    }

    @Override
    public void errorSent(String code) {
        registry.counter("cairn_errors_sent_total", "code", code).increment();
    }
}
