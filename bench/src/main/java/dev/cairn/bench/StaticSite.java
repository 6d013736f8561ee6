package dev.cairn.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * The browser workload's page origin: a static HTTP server in the bench JVM on 127.0.0.1 that
 * serves the server jar's {@code web/} (the client modules as they ship) and the bench page beside
 * them. It is not the Cairn server, so the page still loads once that server is stopped (the Yjs
 * peer does the same with its serve.mjs); the Cairn server lets this origin open sockets
 * ({@code CAIRN_ALLOWED_ORIGINS}). Every answer is {@code Cache-Control: no-store}, as the peer's,
 * so a reload fetches every module again.
 */
final class StaticSite implements AutoCloseable {

    static final String PAGE = "cairn-bench.html";

    private final HttpServer http;
    private final Path root;

    private StaticSite(HttpServer http, Path root) {
        this.http = http;
        this.root = root;
    }

    static StaticSite start(Path serverJar, Path root) throws IOException {
        extract(serverJar, root);
        // The JDK's server leaves Nagle's algorithm on unless told (read once, at its first use): each
        // answer (headers, then the body) then waited ~40 ms for the browser's delayed ACK, one wait
        // per level of the page's module graph, ~0.25 s of every load. Node's http server (the Yjs
        // peer's serve.mjs) and the Cairn server (Vert.x) set TCP_NODELAY.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        StaticSite site = new StaticSite(http, root);
        http.createContext("/", site::serve);
        // The browser fetches a level's modules in parallel (up to 6 connections): answer them so.
        ExecutorService threads = Executors.newFixedThreadPool(6, r -> {
            Thread t = new Thread(r, "static-site");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(threads);
        http.start();
        return site;
    }

    /** {@code http://127.0.0.1:<port>}: the page's origin. */
    String origin() {
        return "http://127.0.0.1:" + http.getAddress().getPort();
    }

    private void serve(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            Path file = root.resolve(path.substring(1)).normalize();
            if (!"GET".equals(ex.getRequestMethod()) || !file.startsWith(root) || !Files.isRegularFile(file)) {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Type", type(file.getFileName().toString()));
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            ex.sendResponseHeaders(200, Files.size(file));
            try (OutputStream out = ex.getResponseBody()) {
                Files.copy(file, out);
            }
        }
    }

    private static String type(String name) {
        if (name.endsWith(".js")) {
            return "text/javascript; charset=utf-8";
        }
        if (name.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        return name.endsWith(".css") ? "text/css; charset=utf-8" : "application/octet-stream";
    }

    /** The server jar's {@code web/} and the bench page (bench jar, /browser/) into {@code root}. */
    private static void extract(Path serverJar, Path root) throws IOException {
        try (JarFile jar = new JarFile(serverJar.toFile())) {
            for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                JarEntry entry = e.nextElement();
                Path target = root.resolve(entry.getName().replaceFirst("^web/", "")).normalize();
                if (!entry.getName().startsWith("web/") || entry.isDirectory() || !target.startsWith(root)) {
                    continue;
                }
                Files.createDirectories(target.getParent());
                try (InputStream in = jar.getInputStream(entry)) {
                    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        if (!Files.isRegularFile(root.resolve("cairn/cairn.js"))) {
            throw new IllegalStateException(serverJar + " has no web/cairn/cairn.js");
        }
        for (String name : List.of(PAGE, "cairn-bench.js")) {
            try (InputStream in = StaticSite.class.getResourceAsStream("/browser/" + name)) {
                if (in == null) {
                    throw new IllegalStateException("the bench jar has no /browser/" + name);
                }
                Files.copy(in, root.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
