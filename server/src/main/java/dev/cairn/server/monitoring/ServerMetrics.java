package dev.cairn.server.monitoring;

import dev.cairn.server.session.SessionMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;

/** The server's Prometheus metrics (GET /metrics). */
public final class ServerMetrics implements SessionMetrics {

    private final PrometheusMeterRegistry registry;
    private final AtomicInteger sessions;
    private final Counter framesIn;
    private final Counter framesOut;
    private final Counter changesIn;
    private final Counter changesCommitted;
    private final Counter rejected;
    private final Timer commitTime;
    private final Timer fanOut;
    private final Counter catchUpPages;
    private final Counter catchUpChanges;
    private final JvmGcMetrics gc;

    /** Cairn's meters on a registry of their own (tests; Vert.x's meters are not on it). */
    public ServerMetrics() {
        this(Monitoring.registry());
    }

    /** Cairn's meters and the JVM's on {@code registry}, which Vert.x may report into too ({@link Monitoring}). */
    public ServerMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        this.sessions = registry.gauge("cairn_sessions", new AtomicInteger());
        this.framesIn = registry.counter("cairn_frames_in_total");
        this.framesOut = registry.counter("cairn_frames_out_total");
        this.changesIn = registry.counter("cairn_changes_pushed_total");
        this.changesCommitted = registry.counter("cairn_changes_committed_total");
        this.rejected = registry.counter("cairn_batches_rejected_total");
        this.commitTime = Timer.builder("cairn_commit_seconds").publishPercentiles(0.5, 0.99).register(registry);
        this.fanOut = Timer.builder("cairn_fanout_seconds").description("from a commit's completion to its delivery on an event loop")
                .publishPercentiles(0.5, 0.99).register(registry);
        this.catchUpPages = registry.counter("cairn_catchup_pages_total");
        this.catchUpChanges = registry.counter("cairn_catchup_changes_total");
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        this.gc = new JvmGcMetrics();
        gc.bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** Stops listening to the JVM's GC notifications (a closed server must not keep a listener). */
    public void close() {
        gc.close();
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

    @Override
    public void catchUpPage(int changes) {
        catchUpPages.increment();
        catchUpChanges.increment(changes);
    }

    @Override
    public void fanOut(long nanos) {
        fanOut.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }
}
