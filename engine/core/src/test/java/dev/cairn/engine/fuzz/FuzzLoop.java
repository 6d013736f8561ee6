package dev.cairn.engine.fuzz;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Runs one fuzz target: first the whole corpus, then random inputs (valid ones from a jqwik
 * generator, and mutations of corpus entries and valid inputs) for a number of tries (CI) or a
 * time budget ({@code CAIRN_LONG=1}). The target throws for a property violation and swallows
 * only its declared errors; anything else it throws, or any input taking longer than
 * {@link FuzzSettings#MAX_PER_INPUT}, is a crasher: reported with the seed, saved under
 * {@code target/fuzz-crashers/} and, in a long run, added to the corpus as a regression case.
 *
 * @param <T> the input type ({@code String} for engine APIs, {@code byte[]} for the wire)
 */
public final class FuzzLoop<T> {

    /** Calls the code under test; returns true if the input was accepted, false if refused with a declared error. */
    public interface Target<T> {
        boolean run(T input) throws Exception;
    }

    /** How inputs of this type are read from and written to the corpus, and shown in messages. */
    public record Format<T>(Function<Corpus.Entry, T> read, java.util.function.BiFunction<Corpus, T, Path> write,
                            Function<T, String> show, Function<T, Integer> size) {
        public static final Format<String> TEXT = new Format<>(Corpus.Entry::text, (c, s) -> c.saveText("crash", s),
                FuzzLoop::abbreviate, String::length);
        public static final Format<byte[]> BYTES = new Format<>(Corpus.Entry::bytes, (c, b) -> c.saveBytes("crash", b),
                b -> abbreviate(new String(b, StandardCharsets.UTF_8)), b -> b.length);
    }

    /** What a run did, for the report. */
    public record Report(String target, long seed, int corpus, long tries, long accepted, long refused, Duration elapsed,
                         long slowestMillis, long targetMillis, long failed, int crashers) {
        @Override
        public String toString() {
            return String.format("%s: %d inputs (%d corpus + %d random) in %.1f s (%.1f min; %.1f s in the code under test), %d accepted, %d refused, slowest %d ms, %d failing inputs, %d distinct crashers, seed=%d",
                    target, corpus + tries, corpus, tries, elapsed.toMillis() / 1000.0, elapsed.toMillis() / 60000.0, targetMillis / 1000.0,
                    accepted, refused, slowestMillis, failed, crashers, seed);
        }
    }

    private final String testName;
    private final Corpus corpus;
    private final Format<T> format;
    private final java.util.function.BiFunction<Random, List<T>, T> source;
    private final Target<T> target;
    private final FuzzSettings settings;

    private long accepted;
    private long refused;
    private long slowest;
    private long targetMillis;
    private long failedInputs;
    private String slowestInput = "";
    private final Map<String, String> crashers = new LinkedHashMap<>();

    /**
     * @param testName printed with the seed
     * @param corpus the target's corpus directory
     * @param source makes the next random input, given the corpus inputs to mutate
     */
    public FuzzLoop(String testName, Corpus corpus, Format<T> format, java.util.function.BiFunction<Random, List<T>, T> source,
                    Target<T> target, int ciTries) {
        this.testName = testName;
        this.corpus = corpus;
        this.format = format;
        this.source = source;
        this.target = target;
        this.settings = FuzzSettings.fromEnvironment(ciTries);
    }

    /** Runs the corpus and the random phase; fails the test listing every crasher. */
    public Report run() {
        System.out.println(testName + " seed=" + settings.seed() + " (replay: CAIRN_SEED=" + settings.seed() + ")"
                + (settings.longRun() ? " long run: " + settings.budget().toMinutes() + " min" : " tries=" + settings.tries()));
        long start = System.nanoTime();
        List<Corpus.Entry> entries = corpus.load();
        List<T> inputs = new ArrayList<>();
        for (Corpus.Entry e : entries) {
            T input = format.read().apply(e);
            inputs.add(input);
            check(input, "corpus file " + e.name(), false);
        }
        Random random = new Random(settings.seed());
        long deadline = start + settings.budget().toNanos();
        long tries = 0;
        long lastProgress = System.nanoTime();
        while (settings.longRun() ? System.nanoTime() < deadline : tries < settings.tries()) {
            T input = source.apply(random, inputs);
            tries++;
            check(input, "random input #" + tries, settings.longRun());
            if (settings.longRun() && System.nanoTime() - lastProgress > 60_000_000_000L) {
                lastProgress = System.nanoTime();
                System.out.println(testName + ": " + tries + " inputs, " + crashers.size() + " crashers so far");
            }
        }
        Report report = new Report(testName, settings.seed(), entries.size(), tries, accepted, refused,
                Duration.ofNanos(System.nanoTime() - start), slowest, targetMillis, failedInputs, crashers.size());
        System.out.println(report);
        System.out.println("  slowest input: " + slowestInput);
        log(report);
        if (!crashers.isEmpty()) {
            StringBuilder msg = new StringBuilder(testName + ": " + crashers.size() + " crasher(s), seed=" + settings.seed()
                    + " (replay: CAIRN_SEED=" + settings.seed() + "):");
            crashers.values().stream().limit(5).forEach(c -> msg.append("\n  ").append(c));
            fail(msg.toString());
        }
        return report;
    }

    private void check(T input, String where, boolean saveToCorpus) {
        Throwable problem = null;
        long took = 0;
        boolean ok = false;
        for (int attempt = 0; attempt < 2; attempt++) {
            long t0 = System.nanoTime();
            try {
                ok = target.run(input);
                problem = null;
            } catch (Throwable t) {
                problem = t;
            }
            took = (System.nanoTime() - t0) / 1_000_000;
            // A slow input is timed twice: one GC pause or a busy machine must not count as a hang.
            if (problem != null || took <= FuzzSettings.MAX_PER_INPUT.toMillis()) {
                break;
            }
        }
        if (took > slowest) {
            slowest = took;
            slowestInput = where + " (" + format.size().apply(input) + " chars/bytes): " + format.show().apply(input);
        }
        targetMillis += took;
        if (problem == null) {
            if (ok) {
                accepted++;
            } else {
                refused++;
            }
        }
        if (problem == null && took > FuzzSettings.MAX_PER_INPUT.toMillis()) {
            problem = new AssertionError("input took " + took + " ms (limit " + FuzzSettings.MAX_PER_INPUT.toMillis() + " ms)");
        }
        if (problem == null) {
            return;
        }
        failedInputs++;
        String signature = signature(problem);
        if (crashers.containsKey(signature)) {
            return;
        }
        Path saved = format.write().apply(new Corpus(crasherDir()), input);
        if (saveToCorpus) {
            saved = format.write().apply(corpus, input);
        }
        crashers.put(signature, where + " (" + format.size().apply(input) + " chars/bytes, saved as " + saved + "): "
                + problem + at(problem) + "\n    input: " + format.show().apply(input));
    }

    private Path crasherDir() {
        return Corpus.moduleDir().resolve("target/fuzz-crashers").resolve(corpus.dir().getFileName());
    }

    // ------------------------------------------------------------------ input sources

    /**
     * One in ten inputs is a fresh valid one; the rest mutate (1-4 times) a corpus entry or a
     * valid input, so most inputs are almost right: that is where decoders break.
     */
    public static java.util.function.BiFunction<Random, List<String>, String> mutationsOf(net.jqwik.api.Arbitrary<String> valid, Mutator mutator) {
        return (r, corpus) -> {
            int k = r.nextInt(10);
            if (k == 0) {
                return ValidInputs.draw(valid, r);
            }
            String base = k < 5 && !corpus.isEmpty() ? corpus.get(r.nextInt(corpus.size())) : ValidInputs.draw(valid, r);
            return mutator.mutate(base, r, 4);
        };
    }

    /** As {@link #mutationsOf}, as UTF-8 bytes, some of them invalid UTF-8. */
    public static java.util.function.BiFunction<Random, List<byte[]>, byte[]> byteMutationsOf(net.jqwik.api.Arbitrary<String> valid, Mutator mutator) {
        return (r, corpus) -> {
            int k = r.nextInt(10);
            if (k == 0) {
                return ValidInputs.draw(valid, r).getBytes(StandardCharsets.UTF_8);
            }
            String base = k < 5 && !corpus.isEmpty() ? new String(corpus.get(r.nextInt(corpus.size())), StandardCharsets.UTF_8)
                    : ValidInputs.draw(valid, r);
            return mutator.mutateBytes(base, r, 4);
        };
    }

    /** Same kind of failure at the same place counts once. */
    private static String signature(Throwable t) {
        if (t instanceof AssertionError) {
            String m = String.valueOf(t.getMessage());
            int colon = m.indexOf(':');
            return "assert:" + (colon > 0 ? m.substring(0, colon) : m);
        }
        return t.getClass().getName() + at(t);
    }

    private static String at(Throwable t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().startsWith("dev.cairn") && !e.getClassName().contains(".fuzz.")) {
                return " at " + e;
            }
        }
        return t.getStackTrace().length > 0 ? " at " + t.getStackTrace()[0] : "";
    }

    private static void log(Report report) {
        try {
            Path file = Corpus.moduleDir().resolve("target/fuzz-runs.log");
            Files.createDirectories(file.getParent());
            Files.writeString(file, Instant.now() + " " + report + System.lineSeparator(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // the report is printed anyway
        }
    }

    /** A printable, bounded view of an input: control characters and surrogates escaped. */
    public static String abbreviate(String s) {
        StringBuilder out = new StringBuilder();
        int limit = 300;
        for (int i = 0; i < s.length() && out.length() < limit; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || Character.isSurrogate(c) || c > 0xfff0) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (out.length() >= limit) {
            out.append("... (").append(s.length()).append(" chars)");
        }
        return out.toString();
    }
}
