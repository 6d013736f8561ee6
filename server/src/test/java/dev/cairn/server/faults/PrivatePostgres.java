package dev.cairn.server.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL cluster of this test's own (initdb in a temp dir, its own port and socket
 * directory), so it can be stopped with {@code -m immediate} without touching the shared cluster
 * other tests use. Binaries come from {@code $CAIRN_PG_BIN} or {@code /usr/lib/postgresql/<v>/bin}.
 * PostgreSQL refuses to run as root, so as root every command runs as the {@code postgres} user
 * ({@code runuser}) and the directory is given to that user.
 */
final class PrivatePostgres implements AutoCloseable {

    static final String MISSING = "this test runs a private PostgreSQL cluster it can stop, and needs PostgreSQL's server binaries "
            + "(initdb, pg_ctl): none found in $CAIRN_PG_BIN or /usr/lib/postgresql/<version>/bin. Install them "
            + "(Debian/Ubuntu: apt-get install postgresql) or point CAIRN_PG_BIN at the directory holding initdb and pg_ctl";

    private final Path bin;
    private final Path base;
    private final Path data;
    private final int port;
    private final boolean asPostgresUser;
    private boolean running;

    private PrivatePostgres(Path bin, Path base, int port, boolean asPostgresUser) {
        this.bin = bin;
        this.base = base;
        this.data = base.resolve("data");
        this.port = port;
        this.asPostgresUser = asPostgresUser;
    }

    /** initdb and start on a free port; fails with {@link #MISSING} if the binaries are not installed. */
    static PrivatePostgres start() throws Exception {
        Path bin = findBin();
        boolean root = "root".equals(System.getProperty("user.name"));
        Path base = Files.createTempDirectory("cairn-private-pg-");
        if (root) {
            UserPrincipal postgres = base.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
            Files.setOwner(base, postgres);
        }
        PrivatePostgres pg = new PrivatePostgres(bin, base, ServerKillIT.freePort(), root);
        try {
            pg.run("initdb", List.of(bin.resolve("initdb").toString(), "-D", pg.data.toString(), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--no-sync"));
            pg.startServer();
        } catch (Exception | AssertionError e) {
            pg.close();
            throw e;
        }
        return pg;
    }

    private static Path findBin() throws IOException {
        String env = System.getenv("CAIRN_PG_BIN");
        List<Path> candidates = new ArrayList<>();
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        Path debian = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(debian)) {
            try (Stream<Path> versions = Files.list(debian)) {
                versions.sorted(Comparator.reverseOrder()).forEach(v -> candidates.add(v.resolve("bin")));
            }
        }
        for (Path c : candidates) {
            if (Files.isExecutable(c.resolve("initdb")) && Files.isExecutable(c.resolve("pg_ctl"))) {
                return c;
            }
        }
        throw new AssertionError(MISSING);
    }

    String url() {
        return "postgresql://postgres@127.0.0.1:" + port + "/postgres";
    }

    int port() {
        return port;
    }

    /** Starts the cluster and waits until it accepts connections. */
    void startServer() throws Exception {
        run("pg_ctl start", List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", base.resolve("postgres.log").toString(),
                "-w", "-t", "120", "-o", "-p " + port + " -k " + base + " -c listen_addresses=127.0.0.1", "start"));
        running = true;
    }

    /** {@code pg_ctl stop -m immediate}: every backend is killed at once, no checkpoint (recovery runs at the next start). */
    void stopImmediate() throws Exception {
        run("pg_ctl stop -m immediate", List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop"));
        running = false;
    }

    private void run(String what, List<String> command) throws Exception {
        List<String> full = new ArrayList<>();
        if (asPostgresUser) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        Path out = Files.createTempFile("cairn-pg-cmd-", ".txt");
        try {
            Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(what + " did not finish within 180 s: " + String.join(" ", full));
            }
            if (p.exitValue() != 0) {
                throw new AssertionError(what + " failed (exit " + p.exitValue() + "): " + String.join(" ", full) + "\n"
                        + Files.readString(out, StandardCharsets.ISO_8859_1) + log());
            }
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private String log() {
        try {
            Path log = base.resolve("postgres.log");
            return Files.exists(log) ? "\npostgres.log:\n" + Files.readString(log, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (running) {
                stopImmediate();
            }
        } finally {
            try (Stream<Path> paths = Files.walk(base)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // best effort: a temp dir
                    }
                });
            }
        }
    }
}
