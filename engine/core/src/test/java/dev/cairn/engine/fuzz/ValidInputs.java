package dev.cairn.engine.fuzz;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.RandomGenerator;
import net.jqwik.api.Tuple;

/**
 * jqwik generators of VALID inputs (frames, changes, export documents, sync bodies), which the
 * fuzzer then mutates. Stamps lie before a fixed instant (2026-01-01) so any server or engine
 * clock accepts them and a seed always produces the same text.
 */
public final class ValidInputs {

    /** 2026-01-01T00:00:00Z: every generated stamp is at most a year before it. */
    public static final long BASE_MILLIS = 1_767_225_600_000L;

    public static final Function<String, SectionKind> KINDS =
            StandardSections.ALL.stream().collect(Collectors.toMap(SectionSpec::name, SectionSpec::kind))::get;

    private static final List<String> MAPS = StandardSections.ALL.stream().filter(s -> s.kind() == SectionKind.MAP).map(SectionSpec::name).toList();
    private static final List<String> LOGS = StandardSections.ALL.stream().filter(s -> s.kind() == SectionKind.LOG).map(SectionSpec::name).toList();

    private static final Map<Arbitrary<?>, RandomGenerator<?>> GENERATORS = new IdentityHashMap<>();

    private ValidInputs() {
    }

    /** Draws one value from a jqwik arbitrary with the caller's {@link Random} (so CAIRN_SEED replays it). */
    @SuppressWarnings("unchecked")
    public static synchronized <T> T draw(Arbitrary<T> arbitrary, Random random) {
        RandomGenerator<T> g = (RandomGenerator<T>) GENERATORS.computeIfAbsent(arbitrary, a -> a.generator(100, true));
        return g.next(random).value();
    }

    // ------------------------------------------------------------------ pieces

    public static final Arbitrary<String> REPLICAS = Arbitraries.oneOf(
            Arbitraries.of("phone-1", "laptop", "r", "server", "A_b-9"),
            Arbitraries.strings().withCharRange('a', 'z').withCharRange('A', 'Z').withCharRange('0', '9').withChars('-', '_').ofMinLength(1).ofMaxLength(64));

    public static final Arbitrary<Stamp> STAMPS = Combinators.combine(
                    Arbitraries.longs().between(BASE_MILLIS - 365L * 24 * 3600 * 1000, BASE_MILLIS),
                    Arbitraries.integers().between(0, (int) Stamp.COUNTER_MASK), REPLICAS)
            .as((millis, counter, replica) -> new Stamp(Stamp.pack(millis, counter), replica));

    /** Well-formed Unicode text (no lone surrogates), control characters included. */
    static final Arbitrary<String> TEXT = Combinators.combine(
            Arbitraries.strings().withCharRange('\u0000', '\ud7ff').withCharRange('\ue000', '\ufffd').withChars('"', '\\', '/', 'é').ofMaxLength(24),
            Arbitraries.of("", "", "\ud83d\ude00")).as(String::concat);

    /** Keys and stream names: 1-512 chars, no control characters. */
    static final Arbitrary<String> KEYS = Arbitraries.oneOf(
            Arbitraries.of("k", "card-intro/isExpanded", "theme", "conv-1", "onboarding/steps/welcome", "a/b/c", "\u00e9t\u00e9", "\ud83d\ude00"),
            Arbitraries.strings().withCharRange(' ', '~').withCharRange('\u00a0', '\u00ff').ofMinLength(1).ofMaxLength(40),
            Arbitraries.strings().withCharRange('a', 'z').ofLength(512));

    public static final Arbitrary<String> VALUES = values(3);

    static Arbitrary<String> values(int depth) {
        Arbitrary<String> leaf = Arbitraries.oneOf(
                Arbitraries.of("null", "true", "false", "0", "-1", "1.5", "1e10", "-0.0", "9223372036854775807", "\"\""),
                Arbitraries.longs().map(String::valueOf),
                Arbitraries.bigDecimals().between(new java.math.BigDecimal("-1e12"), new java.math.BigDecimal("1e12")).ofScale(4).map(Json::write),
                TEXT.map(Json::write));
        if (depth == 0) {
            return leaf;
        }
        Arbitrary<String> inner = values(depth - 1);
        Arbitrary<String> array = inner.list().ofMaxSize(4).map(l -> "[" + String.join(",", l) + "]");
        Arbitrary<String> object = Arbitraries.maps(TEXT, inner).ofMaxSize(4).map(m -> m.entrySet().stream()
                .map(e -> Json.write(e.getKey()) + ":" + e.getValue()).collect(Collectors.joining(",", "{", "}")));
        return Arbitraries.frequencyOf(Tuple.of(4, leaf), Tuple.of(1, array), Tuple.of(1, object));
    }

    public static final Arbitrary<Change> CHANGES = Arbitraries.frequencyOf(
            Tuple.of(4, Combinators.combine(Arbitraries.of(MAPS), KEYS, VALUES, STAMPS).as(Change.Put::new)),
            Tuple.of(1, Combinators.combine(Arbitraries.of(MAPS), KEYS, STAMPS).as((s, k, st) -> new Change.Put(s, k, null, st))),
            Tuple.of(3, Combinators.combine(Arbitraries.of(LOGS), KEYS, VALUES, STAMPS).as(Change.Append::new)),
            Tuple.of(1, Combinators.combine(Arbitraries.of(LOGS), KEYS, STAMPS).as(Change.Clear::new)),
            Tuple.of(1, Combinators.combine(Arbitraries.of(MAPS), STAMPS).as(Change.Clear::wholeSection)));

    // ------------------------------------------------------------------ frames

    public static final Arbitrary<Frame> CLIENT_FRAMES = Arbitraries.frequencyOf(
            Tuple.of(2, Combinators.combine(Arbitraries.of(1, 1, 1, 0, 2), REPLICAS, Arbitraries.longs().between(0, 1000))
                    .as(Frame.Hello::new)),
            Tuple.of(6, Combinators.combine(Arbitraries.longs().between(0, Long.MAX_VALUE), CHANGES.list().ofMaxSize(5))
                    .as(Frame.Push::new)),
            Tuple.of(1, Arbitraries.just(new Frame.Ping())),
            Tuple.of(1, Arbitraries.just(new Frame.Pong())));

    public static final Arbitrary<Frame> SERVER_FRAMES = Arbitraries.oneOf(
            Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(20),
                    Arbitraries.longs().between(0, 1 << 20), Arbitraries.integers().between(1, 1000), Arbitraries.longs().between(0, 86_400_000),
                    Arbitraries.longs().between(1, 1 << 24)).as(Frame.Welcome::new),
            Combinators.combine(Combinators.combine(Arbitraries.longs().between(1, 1 << 20), CHANGES).as(Frame.SeqChange::new).list().ofMaxSize(4),
                    Arbitraries.longs().between(0, 1 << 20)).as(Frame.Changes::new),
            Arbitraries.longs().between(0, Long.MAX_VALUE).map(Frame.CaughtUp::new),
            Arbitraries.longs().between(0, Long.MAX_VALUE).map(Frame.Ack::new),
            Combinators.combine(Arbitraries.of(ErrorCode.class), TEXT, Arbitraries.longs().between(0, 100).injectNull(0.5)).as(Frame.Error::new));

    public static final Arbitrary<String> CLIENT_FRAME_TEXT = CLIENT_FRAMES.map(FrameCodec::encode);
    public static final Arbitrary<String> FRAME_TEXT = Arbitraries.oneOf(CLIENT_FRAMES, SERVER_FRAMES).map(FrameCodec::encode);
    public static final Arbitrary<String> CHANGE_TEXT = Arbitraries.oneOf(
            CHANGES.map(ChangeJson::encode), CHANGES.list().ofMaxSize(4).map(ChangeJson::encodeAll));

    // ------------------------------------------------------------------ documents

    private static final Arbitrary<ReplicaState> STATES = CHANGES.list().ofMaxSize(8).map(changes -> {
        ReplicaState state = new ReplicaState(KINDS);
        changes.forEach(state::apply);
        return state;
    });

    private static final List<String> ALL_SECTIONS = StandardSections.ALL.stream().map(SectionSpec::name).toList();

    public static final Arbitrary<String> EXPORT_DOCUMENTS = STATES.map(state ->
            ExportDocument.write("phone-1", Instant.ofEpochMilli(BASE_MILLIS), state, ALL_SECTIONS));

    /** Bodies of POST /api/persistence/sync: the canonical sections of a state. */
    public static final Arbitrary<String> SYNC_BODIES = STATES.map(state ->
            "{\"sections\":" + CanonicalJson.encode(state, ALL_SECTIONS) + "}");

    /** A few fixed valid inputs of a generator, for splicing. */
    public static List<String> samples(Arbitrary<String> arbitrary, int n, long seed) {
        Random r = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(draw(arbitrary, r));
        }
        return out;
    }
}
