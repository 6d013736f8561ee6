package dev.cairn.bench.jmh;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH benchmarks of the engine's hot paths: {@code java -jar bench/target/cairn-bench.jar jmh}
 * (any JMH options after it, e.g. {@code jmh -f 1 -wi 3 -i 5 HotPaths.frame}).
 *
 * <p>The data is W1/W2's: map puts of {@code card(i)} JSON values in section {@code ui}, stamped
 * by one replica. A batch is {@code batch} changes (500: the sync client's default push batch).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class HotPaths {

    @Param({"500"})
    public int batch;

    private List<Change> changes;
    private String pushText;
    private String changesText;
    private Frame.Push push;
    private Frame.Changes page;
    private Change one;
    private String oneJson;
    private HybridClock clock;
    private ReplicaState filled;

    private static SectionKind kind(String section) {
        return section.equals("chat") ? SectionKind.LOG : SectionKind.MAP;
    }

    @Setup
    public void setup() {
        long hlc = Stamp.pack(System.currentTimeMillis(), 0);
        changes = new ArrayList<>();
        List<Frame.SeqChange> seq = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            String value = "{\"isExpanded\":" + (i % 2 == 0) + ",\"isVisible\":" + (i % 3 != 0)
                    + ",\"lastInteraction\":\"2025-01-01T00:00:00." + String.format("%03d", i % 1000) + "Z\"}";
            Change c = new Change.Put("ui", "k" + i, value, new Stamp(hlc + i, "bench-device"));
            changes.add(c);
            seq.add(new Frame.SeqChange(i + 1, c));
        }
        push = new Frame.Push(17, changes);
        page = new Frame.Changes(seq, batch);
        pushText = FrameCodec.encode(push);
        changesText = FrameCodec.encode(page);
        one = changes.get(batch / 2);
        oneJson = ChangeJson.encode(one);
        clock = new HybridClock(WallClock.system(), "bench-device", 60_000);
        filled = new ReplicaState(HotPaths::kind);
        changes.forEach(filled::apply);
    }

    /** Merge of a batch into an empty replica state: every change wins (a catch-up page, a fresh device). */
    @Benchmark
    public ReplicaState mergeBatchFresh() {
        ReplicaState state = new ReplicaState(HotPaths::kind);
        for (Change c : changes) {
            state.apply(c);
        }
        return state;
    }

    /** Merge of the same batch again: every change loses (duplicates, the server echoing a device's own changes). */
    @Benchmark
    public int mergeBatchDuplicate() {
        int applied = 0;
        for (Change c : changes) {
            if (filled.apply(c)) {
                applied++;
            }
        }
        return applied;
    }

    @Benchmark
    public String frameEncodePush() {
        return FrameCodec.encode(push);
    }

    @Benchmark
    public Frame frameDecodePush() {
        return FrameCodec.decode(pushText);
    }

    @Benchmark
    public String frameEncodeChanges() {
        return FrameCodec.encode(page);
    }

    @Benchmark
    public Frame frameDecodeChanges() {
        return FrameCodec.decode(changesText);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public Stamp clockTick() {
        return clock.tick();
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public String stampToString() {
        return one.stamp().toString();
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public String changeJsonEncode() {
        return ChangeJson.encode(one);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public Change changeJsonDecode() {
        return ChangeJson.decode(oneJson);
    }
}
