package dev.cairn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.openqa.selenium.WebDriverException;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * One headless Debian Chromium on a given profile directory, driven by Debian's chromedriver
 * through Selenium, as the server's browser tests (server/src/test/.../browser/Browser.java). Both
 * paths are always given, so Selenium Manager never runs and nothing is downloaded. The flags are
 * those of the Yjs peer's browser bench (/work/shared/peers/browser) plus the tests'
 * {@code --disable-dev-shm-usage}.
 */
final class Chromium implements AutoCloseable {

    static final Path BINARY = Path.of("/usr/bin/chromium");
    static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // Selenium logs every retry and CDP lookup at INFO/WARNING; the bench's stderr is its progress.
        Logger.getLogger("org.openqa.selenium").setLevel(Level.SEVERE);
    }

    private final ChromeDriverService service;
    private final ChromeDriver driver;

    /** Starts Chromium on {@code profile} (created if missing; kept, so a second start reopens it). */
    Chromium(Path profile) {
        for (Path p : List.of(BINARY, DRIVER)) {
            if (!Files.isExecutable(p)) {
                throw new IllegalStateException("the browser workload needs Debian's Chromium and its driver; missing " + p
                        + " (apt-get install -y chromium chromium-driver)");
            }
        }
        ChromeOptions options = new ChromeOptions();
        options.setBinary(BINARY.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile.toAbsolutePath());
        service = new ChromeDriverService.Builder().usingDriverExecutable(new File(DRIVER.toString())).usingAnyFreePort().build();
        try {
            driver = new ChromeDriver(service, options);
        } catch (RuntimeException e) {
            service.stop();
            throw new IllegalStateException("could not start " + BINARY + " through " + DRIVER + ": " + e.getMessage(), e);
        }
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(60));
    }

    /** Navigates (returns once the navigation has committed and the document loaded). */
    void open(String url) {
        driver.get(url);
    }

    void reload() {
        driver.navigate().refresh();
    }

    /** Starts the V8 sampling CPU profiler of the current page's renderer (Chrome DevTools Protocol). */
    void startProfiler() {
        driver.executeCdpCommand("Profiler.enable", Map.of());
        driver.executeCdpCommand("Profiler.setSamplingInterval", Map.of("interval", 200));
        driver.executeCdpCommand("Profiler.start", Map.of());
    }

    /** Stops the profiler; the profile as the DevTools protocol gives it (nodes, samples, timeDeltas). */
    @SuppressWarnings("unchecked")
    Map<String, Object> stopProfiler() {
        return (Map<String, Object>) driver.executeCdpCommand("Profiler.stop", Map.of()).get("profile");
    }

    /** Waits for the page's {@code window.__result} (polled every 100 ms) and returns it as a map. */
    @SuppressWarnings("unchecked")
    Map<String, Object> awaitResult(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Object json = driver.executeScript("return window.__result ? JSON.stringify(window.__result) : null");
            if (json instanceof String s) {
                return JSON.readValue(s, Map.class);
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("the page gave no result in " + timeout.toSeconds() + " s; it shows: "
                + driver.executeScript("return document.getElementById('status')?.textContent"));
    }

    /**
     * Seconds the current renderer's main thread has spent running tasks so far (DevTools
     * Performance.getMetrics {@code TaskDuration}; a worker's thread is not in it).
     */
    @SuppressWarnings("unchecked")
    double mainThreadSeconds() {
        driver.executeCdpCommand("Performance.enable", Map.of());
        for (Map<String, Object> m : (List<Map<String, Object>>) driver.executeCdpCommand("Performance.getMetrics", Map.of()).get("metrics")) {
            if ("TaskDuration".equals(m.get("name"))) {
                return ((Number) m.get("value")).doubleValue();
            }
        }
        return Double.NaN;
    }

    /** The page's V8 heap in MiB: used as it is, then after a full GC (Chrome DevTools Protocol). */
    double[] heapMiB() {
        double before = usedHeap();
        driver.executeCdpCommand("HeapProfiler.collectGarbage", Map.of());
        return new double[] {before, usedHeap()};
    }

    private double usedHeap() {
        Object used = driver.executeCdpCommand("Runtime.getHeapUsage", Map.of()).get("usedSize");
        return ((Number) used).doubleValue() / (1024 * 1024);
    }

    /** The browser's DevTools address ("host:port"), where {@link WorkerProfiler} connects. */
    @SuppressWarnings("unchecked")
    String debuggerAddress() {
        return (String) ((Map<String, Object>) driver.getCapabilities().getCapability("goog:chromeOptions")).get("debuggerAddress");
    }

    /** Chromium's version, e.g. "156.0.8078.114". */
    String version() {
        return String.valueOf(driver.getCapabilities().getBrowserVersion());
    }

    /**
     * Closes Chromium the way a user does (DevTools {@code Browser.close}, as the Yjs peer's
     * playwright does), so it writes its profile out (localStorage is committed to disk in batches,
     * seconds after the writes); then ends the driver session.
     */
    @Override
    public void close() {
        try {
            driver.executeCdpCommand("Browser.close", Map.of());
        } catch (WebDriverException e) {
            // the connection ends with the browser
        }
        try {
            driver.quit();
        } catch (WebDriverException e) {
            // already gone
        } finally {
            service.stop();
        }
    }
}
