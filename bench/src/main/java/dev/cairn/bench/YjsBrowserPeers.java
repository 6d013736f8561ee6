package dev.cairn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The Yjs peer's browser bench ({@code --peers /work/shared/peers/browser}: Yjs + y-websocket +
 * y-indexeddb in the same Chromium, its {@code run.sh}), run right after the Cairn cases so both
 * are measured in the same sitting. The peers' folder may be read-only, and run.sh installs its
 * npm packages next to itself, so the folder's parent is copied to {@code <dir>/cairn-bench-peers}
 * (kept between invocations: the npm install happens once). Its RESULT lines become rows of the
 * same tables (variant {@code yjs <variant>}, metrics renamed to the Cairn rows' names), and its
 * own results/table.md is appended to the output.
 */
final class YjsBrowserPeers {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The peer's case name to this bench's. */
    private static final Map<String, String> CASES = Map.of(
            "first-open", "first open", "reload", "reload", "restart-offline", "restart with the server stopped");

    private YjsBrowserPeers() {
    }

    static void run(Ctx ctx, Path browserDir, String sizes, int runs) throws Exception {
        Path source = browserDir.toAbsolutePath().normalize();
        if (!Files.isRegularFile(source.resolve("run.sh")) || source.getParent() == null) {
            throw new IllegalArgumentException("--peers " + browserDir + " has no run.sh (expected the peers' browser folder)");
        }
        Path copy = ctx.args.path("dir").toAbsolutePath().resolve("cairn-bench-peers");
        copyTree(source.getParent(), copy);
        Path dir = copy.resolve(source.getFileName());
        Ctx.log("=== Yjs peer browser bench: %s (copy in %s), RUNS=%d SIZES=%s VARIANTS=%s", source, dir, runs, sizes,
                ctx.args.string("peers-variants"));
        ProcessBuilder pb = new ProcessBuilder("bash", "run.sh").directory(dir.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("RUNS", Integer.toString(runs));
        pb.environment().put("SIZES", sizes);
        pb.environment().put("VARIANTS", ctx.args.string("peers-variants"));
        pb.environment().put("CHROMIUM_PATH", Chromium.BINARY.toString());
        Process p = pb.start();
        int rows = 0;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("RESULT ")) {
                    rows += add(ctx, JSON.readValue(line.substring(7), Map.class));
                }
            }
        }
        if (!p.waitFor(2, TimeUnit.HOURS)) {
            p.destroyForcibly();
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("the Yjs peer bench failed (exit " + p.exitValue() + "); see its output above and " + dir.resolve("results"));
        }
        Path table = dir.resolve("results/table.md");
        ctx.report.appendix("## Yjs peer browser bench, its own tables (`" + source + "/run.sh`, same sitting)\n\n"
                + Files.readString(table).replace("\n### ", "\n#### ") + "\n");
        Ctx.log("Yjs peer: %d rows", rows);
    }

    /** One peer RESULT line as a row of the Cairn tables; 0 when it is not one of the cases compared. */
    @SuppressWarnings("unchecked")
    private static int add(Ctx ctx, Map<String, Object> r) {
        String kase = CASES.get(String.valueOf(r.get("case")));
        if (kase == null || !"yjs".equals(r.get("system"))) {
            return 0;
        }
        int entries = ((Number) r.get("nMap")).intValue();
        int chat = ((Number) r.get("nChat")).intValue();
        boolean ok = Boolean.TRUE.equals(r.get("ok"));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("modules loaded ms", r.get("appStartMs"));
        if (kase.equals("first open")) {
            m.put("device read ms", r.get("idbOpenMs"));
            m.put("readable ms", r.get("syncedMs")); // y-websocket's synced: the server's update is applied
            m.put("live ms", r.get("syncedMs"));
            m.put("durable ms", r.get("durableMs"));
        } else {
            m.put("device read ms", r.get("idbReadableMs"));
            if (ok) {
                m.put("entries on device", entries); // ok: the doc was complete when y-indexeddb said synced
                m.put("messages on device", chat);
            }
            m.put("readable ms", r.get("idbReadableMs"));
            if (r.get("syncedMs") != null) {
                m.put("live ms", r.get("syncedMs"));
            }
        }
        if (ok) {
            m.put("entries readable", entries);
            m.put("messages readable", chat);
        }
        m.put("heap MiB", r.get("cdpHeapUsedMiB"));
        m.put("heap after GC MiB", r.get("cdpHeapAfterGcMiB"));
        m.put("storage.estimate MiB", r.get("storageUsageMiB"));
        m.put("ok", ok);
        List<?> errors = (List<?>) r.get("errors");
        if (errors != null && !errors.isEmpty()) {
            m.put("first errors", errors);
        }
        ctx.report.add("Browser " + kase + ", " + BrowserBench.label(entries, chat), "yjs " + r.get("variant"), ((Number) r.get("run")).intValue(), m);
        return 1;
    }

    /** Copies {@code from} into {@code to} (files writable), leaving {@code node_modules} and {@code results} where they are. */
    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path rel = from.relativize(p);
                if (rel.toString().contains("node_modules") || rel.startsWith("browser/results") || rel.startsWith("results")) {
                    continue;
                }
                Path target = to.resolve(rel.toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                    target.toFile().setWritable(true, true);
                }
            }
        }
    }
}
