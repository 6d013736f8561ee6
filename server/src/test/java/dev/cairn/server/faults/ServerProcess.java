package dev.cairn.server.faults;

import dev.cairn.server.Main;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Cairn server in its own JVM ({@link Main}, configured through the environment as in
 * production) with a fixed heap, so "stays within its heap" is real: an OutOfMemoryError ends
 * the process ({@code -XX:+ExitOnOutOfMemoryError}) and {@link #sample} sees it. Output goes to
 * a file in the test's directory.
 */
final class ServerProcess implements AutoCloseable {

    private static final Pattern STARTED = Pattern.compile("Cairn server on http://localhost:(\\d+)/");
    private static final Pattern HEAP = Pattern.compile("^jvm_memory_used_bytes\\{area=\"heap\"[^}]*} ([0-9.eE+-]+)$", Pattern.MULTILINE);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Process process;
    private final Path log;
    private final int port;
    private long maxHeap;
    private long maxRss;

    private ServerProcess(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    static ServerProcess start(Path dir, String heap, Map<String, String> env) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap, "-Xms" + heap, "-XX:+ExitOnOutOfMemoryError",
                "-cp", cp, Main.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        pb.environment().put("CAIRN_HOST", "127.0.0.1");
        pb.environment().put("CAIRN_PORT", "0");
        pb.environment().put("CAIRN_DATA_DIR", dir.resolve("server-data").toString());
        Path log = dir.resolve("server.log");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Matcher m = STARTED.matcher(Files.readString(log));
            if (m.find()) {
                return new ServerProcess(p, log, Integer.parseInt(m.group(1)));
            }
            if (!p.isAlive()) {
                break;
            }
            Thread.sleep(100);
        }
        p.destroyForcibly();
        throw new AssertionError("the server JVM did not start within 60 s; its output:\n" + Files.readString(log));
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Heap in use now (from /metrics) and the process's RSS; keeps the maxima. Returns the heap, or -1 if unreachable. */
    long sample() {
        long rss = rssBytes();
        maxRss = Math.max(maxRss, rss);
        try {
            String text = get("/metrics").body();
            Matcher m = HEAP.matcher(text);
            double heap = 0;
            while (m.find()) {
                heap += Double.parseDouble(m.group(1));
            }
            maxHeap = Math.max(maxHeap, (long) heap);
            return (long) heap;
        } catch (IOException | InterruptedException e) {
            return -1;
        }
    }

    /** The value of a counter or gauge line in /metrics (summed over label sets matching {@code labels}), or 0. */
    double metric(String name, String labels) throws IOException, InterruptedException {
        double sum = 0;
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                if (labels == null || line.contains(labels)) {
                    sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
        }
        return sum;
    }

    int healthStatus() {
        try {
            return get("/health").statusCode();
        } catch (IOException | InterruptedException e) {
            return -1;
        }
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    long maxHeap() {
        return maxHeap;
    }

    long maxRss() {
        return maxRss;
    }

    private long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux, or gone
        }
        return 0;
    }

    /** The server's output (for failure messages), its tail at most. */
    String output() {
        try {
            String text = Files.readString(log);
            return text.length() > 20_000 ? "..." + text.substring(text.length() - 20_000) : text;
        } catch (IOException e) {
            return "<unreadable: " + e + ">";
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
