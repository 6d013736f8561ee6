package dev.cairn.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One JVM started by the bench: a Cairn server node ({@code java -jar cairn-server.jar},
 * configured by environment variables, port 0 on 127.0.0.1; the port is read from the line the
 * server prints when it listens) or the bench's own relay ({@link Relay}). Its output goes to a
 * log file. Memory is the process's {@code VmRSS} from {@code /proc/<pid>/status}.
 */
final class ServerProcess implements AutoCloseable {

    private static final Pattern LISTENING = Pattern.compile("on http://localhost:(\\d+)/");

    private final Process process;
    private final int port;
    private final Path log;

    private ServerProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** {@code java [jvmOptions] -jar jar} with {@code env} added to this process's environment. */
    static ServerProcess startJar(Path jar, Map<String, String> env, List<String> jvmOptions, Path log) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.addAll(jvmOptions);
        cmd.add("-jar");
        cmd.add(jar.toString());
        return start(cmd, env, log);
    }

    /** {@code java [jvmOptions] -cp classpath mainClass}. */
    static ServerProcess startMain(String classpath, String mainClass, Map<String, String> env, List<String> jvmOptions, Path log) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        return start(cmd, env, log);
    }

    private static ServerProcess start(List<String> cmd, Map<String, String> env, Path log) {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p;
        PrintWriter logOut;
        try {
            Files.createDirectories(log.getParent());
            logOut = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true);
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + cmd, e);
        }
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    logOut.println(line);
                    if (!port.isDone()) {
                        Matcher m = LISTENING.matcher(line);
                        if (m.find()) {
                            port.complete(Integer.parseInt(m.group(1)));
                        }
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            } finally {
                logOut.close();
                port.completeExceptionally(new IllegalStateException("process ended before it listened; log: " + log));
            }
        }, "server-log-" + p.pid());
        reader.setDaemon(true);
        reader.start();
        try {
            return new ServerProcess(p, port.get(90, TimeUnit.SECONDS), log);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IllegalStateException("server did not start: " + e.getMessage() + "\n" + tail(log), e);
        }
    }

    static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    URI syncUri() {
        return URI.create("ws://127.0.0.1:" + port + "/sync");
    }

    URI httpUri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /** VmRSS of the process in KiB. */
    long rssKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("no VmRSS for pid " + process.pid());
    }

    Path log() {
        return log;
    }

    /** SIGTERM (the server's shutdown hook closes Vert.x), then SIGKILL after 15 s. */
    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
