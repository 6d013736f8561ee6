package dev.cairn.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Options of the server suites (w1 .. w6, all): {@code --name value} pairs. Every option has a
 * default that is the full size; {@code --smoke} switches the defaults to tiny sizes (an
 * option given explicitly still wins).
 */
final class Args {

    /** name, full-size default, smoke default, help. */
    private static final String[][] KNOWN = {
            {"runs", "3", "1", "measured runs per workload (medians [min–max] are reported)"},
            {"store", "both", "both", "pg, embedded or both (where the workload has a store)"},
            {"pg-url", "postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://postgres@127.0.0.1:5432/postgres",
                    "maintenance database URL; the bench creates and drops cairn_bench_<n> next to it"},
            {"server-jar", "", "", "the shaded server jar (default: server/target/cairn-server.jar found from the working dir or the bench jar)"},
            {"server-jvm", "", "", "extra JVM options for the server JVMs, space-separated (e.g. \"-Xmx2g\")"},
            {"dir", System.getProperty("java.io.tmpdir"), System.getProperty("java.io.tmpdir"), "where temporary stores, data dirs and server logs go"},
            {"ceilings", "true", "true", "also measure each workload's ceiling (raw relay, raw inserts, raw stores)"},
            {"protocol", "2", "2", "the highest sync protocol version the devices offer (PROTOCOL.md 7.1): 2 (binary pages) or 1 (JSON)"},
            {"w1-n", "2000", "50", "W1: changes made by device A"},
            {"w1-keys", "200", "200", "W1: distinct keys (card-<i mod keys>)"},
            {"w1-device", "durable", "durable", "W1: device store, durable (journal in a temp dir) or memory"},
            {"w2-devices", "20", "3", "W2: devices, each its own user"},
            {"w2-changes", "5000", "200", "W2: changes per device"},
            {"w3-entries", "100000", "500", "W3: map entries of the user"},
            {"w3-chat", "20000", "100", "W3: chat messages of the user (80-char text)"},
            {"w4-sets", "100000", "2000", "W4: map sets"},
            {"w4-chat", "20000", "400", "W4: chat appends"},
            {"w5-idle", "1000,10000", "50,100", "W5: idle connection counts, one after another"},
            {"w5-fanout", "1000", "50", "W5: devices of one user that receive one change"},
            {"w8-members", "50", "4", "W8: members of one shared space (PROTOCOL.md 8), the owner included"},
            {"w8-devices", "2", "2", "W8: devices per member, each a socket that receives the space's changes"},
            {"w8-n", "500", "20", "W8: changes the owner's writer device makes, one at a time"},
            {"w6-nodes", "1,2,4", "1,2", "W6: server node counts for the W2 scaling run"},
            {"w7-users", "10000", "200", "W7: users of w7-user-bytes each (besides the big user)"},
            {"w7-user-bytes", "200000", "200000", "W7: user data per user (10,000-character values)"},
            {"w7-big-entries", "1000000", "20000", "W7: map entries of the big user (~100 B each)"},
            {"w7-heap", "256m", "64m", "W7: the server's -Xmx"},
            {"w7-parallel", "8", "4", "W7: users loaded at a time"},
            {"w7-write-seconds", "30", "5", "W7: seconds of writes after the catch-up"},
            {"w7-out", "w7-heap-out", "w7-heap-out", "W7: where the GC log, heap samples and class histogram are kept"},
            {"browser-sizes", "20000x4000,100000x20000", "2000x400",
                    "browser: user data sizes, ENTRIESxMESSAGES,... (e.g. add 1000000x200000)"},
            {"peers", "", "", "browser: the Yjs peer's browser folder (/work/shared/peers/browser) to run in the same sitting"},
            {"peers-variants", "tuned,docs", "tuned", "browser: the Yjs peer's VARIANTS (tuned, docs, idb-first-bc)"},
            {"browser-raw-catchup", "false", "false",
                    "browser: before first open, a bare protocol client catches the user up once (logged: the server's side alone; it also warms the server's catch-up path)"},
            {"browser-server", "cold", "cold",
                    "browser: the server at first open: cold (started for the run, only the seeding done) and/or warm (two other users of the same size, seeded before and after, caught up twice each in binary pages, so its catch-up path is compiled); 'cold,warm' runs both"},
            {"browser-worker", "shared", "shared",
                    "browser: where the client syncs, shared (the user's shared worker), dedicated (a worker per tab, the fallback without SharedWorker) and/or none (in the page); 'none,shared' runs both, interleaved"},
            {"browser-profile", "", "",
                    "browser: a folder; first open and both reloads are recorded with the V8 CPU profiler into it (.cpuprofile) and their top functions logged"},
            {"w6-entries", "10000,100000,1000000", "200,1000", "W6: W3 catch-up sizes (map entries; chat = entries / 5)"},
    };

    private final Map<String, String> values = new LinkedHashMap<>();
    private final java.util.Set<String> given;
    private final boolean smoke;
    private String commandLine = "";

    private Args(Map<String, String> given, boolean smoke) {
        this.smoke = smoke;
        this.given = java.util.Set.copyOf(given.keySet());
        for (String[] k : KNOWN) {
            values.put(k[0], smoke ? k[2] : k[1]);
        }
        values.putAll(given);
    }

    static Args parse(String[] args, int from) {
        Map<String, String> given = new LinkedHashMap<>();
        boolean smoke = false;
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--smoke")) {
                smoke = true;
                continue;
            }
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'");
            }
            String name = a.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                value = args[++i];
            }
            if (!known(name)) {
                throw new IllegalArgumentException("unknown option '--" + name + "'");
            }
            given.put(name, value);
        }
        Args parsed = new Args(given, smoke);
        parsed.commandLine = String.join(" ", java.util.Arrays.copyOfRange(args, from, args.length));
        String store = parsed.string("store");
        if (!List.of("pg", "embedded", "both").contains(store)) {
            throw new IllegalArgumentException("--store must be pg, embedded or both");
        }
        parsed.integer("runs");
        BrowserBench.sizes(parsed.string("browser-sizes"));
        return parsed;
    }

    private static boolean known(String name) {
        for (String[] k : KNOWN) {
            if (k[0].equals(name)) {
                return true;
            }
        }
        return false;
    }

    static void usage(StringBuilder out) {
        out.append("  --smoke          tiny sizes for every workload (explicit options still win)\n");
        for (String[] k : KNOWN) {
            out.append(String.format("  --%-14s %s (default %s; smoke %s)%n", k[0], k[3], k[1].isEmpty() ? "-" : k[1], k[2].isEmpty() ? "-" : k[2]));
        }
    }

    boolean smoke() {
        return smoke;
    }

    String string(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new IllegalStateException("no option " + name);
        }
        return v;
    }

    int integer(String name) {
        String text = string(name).replace("_", "").replace(",", "");
        try {
            int v = Integer.parseInt(text);
            if (v <= 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a positive integer: " + string(name));
        }
    }

    List<Integer> integers(String name) {
        List<Integer> out = new ArrayList<>();
        for (String part : string(name).split(",")) {
            try {
                int v = Integer.parseInt(part.trim().replace("_", ""));
                if (v <= 0) {
                    throw new NumberFormatException();
                }
                out.add(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + name + " must be a comma-separated list of positive integers: " + string(name));
            }
        }
        return out;
    }

    boolean bool(String name) {
        return Boolean.parseBoolean(string(name));
    }

    Path path(String name) {
        return Path.of(string(name));
    }

    /** The stores a workload runs on: pg, embedded, or both (pg first). */
    List<String> stores() {
        return stores("both");
    }

    /** As {@link #stores()}, with the workload's own default when {@code --store} is not given. */
    List<String> stores(String byDefault) {
        String s = given.contains("store") ? string("store") : byDefault;
        return s.equals("both") ? List.of("pg", "embedded") : List.of(s);
    }

    /** The options as given on the command line (for the report). */
    String describe() {
        return commandLine;
    }
}
