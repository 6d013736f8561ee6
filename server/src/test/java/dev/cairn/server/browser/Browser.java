package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.NoSuchElementException;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriverException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * One headless Debian Chromium (its own profile directory) driven by Debian's chromedriver.
 * Both paths are always given, so Selenium Manager never runs and nothing is downloaded.
 * Console messages are collected as the test goes; {@link #assertNoConsoleErrors} checks them.
 */
final class Browser implements AutoCloseable {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Duration WAIT = Duration.ofSeconds(10);
    /** How long a live change may take to show in another window. */
    static final Duration LIVE = Duration.ofSeconds(3);
    static final Path SCREENSHOTS = Path.of("target", "browser-screenshots");
    /** What a stopped server makes a page log: refused fetches and WebSocket connections. */
    static final Pattern[] SERVER_DOWN = {
        Pattern.compile("ERR_CONNECTION_REFUSED"),
        Pattern.compile("WebSocket connection to '.*' failed"),
    };

    private final String name;
    private final ChromeDriverService service;
    private final ChromeDriver driver;
    private final List<LogEntry> console = new ArrayList<>();

    /** Fails (never skips) when the browser is not installed. */
    static void requireInstalled() {
        List<String> missing = new ArrayList<>();
        if (!Files.isExecutable(CHROMIUM)) {
            missing.add(CHROMIUM.toString());
        }
        if (!Files.isExecutable(CHROMEDRIVER)) {
            missing.add(CHROMEDRIVER.toString());
        }
        if (!missing.isEmpty()) {
            fail("the browser tests need Debian's Chromium and its driver, missing: " + missing
                    + " — install them with: apt-get install -y chromium chromium-driver");
        }
    }

    /** Starts a browser with a fresh profile in {@code profileDir}, downloads going to {@code profileDir/downloads}. */
    Browser(String name, Path profileDir) {
        requireInstalled();
        this.name = name;
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--user-data-dir=" + profileDir.resolve("profile").toAbsolutePath(), "--window-size=1280,1600");
        Map<String, Object> prefs = new HashMap<>();
        prefs.put("download.default_directory", downloads(profileDir).toAbsolutePath().toString());
        prefs.put("download.prompt_for_download", false);
        options.setExperimentalOption("prefs", prefs);
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER.toString()))
                .usingAnyFreePort().build();
        try {
            driver = new ChromeDriver(service, options);
        } catch (RuntimeException e) {
            service.stop();
            throw new AssertionError("could not start " + CHROMIUM + " through " + CHROMEDRIVER + ": " + e.getMessage(), e);
        }
        driver.manage().timeouts().scriptTimeout(WAIT);
    }

    /** Closes what a test started, in order, each even if one before failed (nulls: not started). */
    static void closeAll(AutoCloseable... all) {
        AssertionError failed = null;
        for (AutoCloseable c : all) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception | AssertionError e) {
                if (failed == null) {
                    failed = new AssertionError("closing " + c + " failed: " + e, e);
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    static Path downloads(Path profileDir) {
        return profileDir.resolve("downloads");
    }

    ChromeDriver driver() {
        return driver;
    }

    // ------------------------------------------------------------------ page

    /** Opens the demo page signed in as {@code user} and waits until it is live with nothing pending. */
    Browser signIn(String httpBase, String user) {
        driver.get(httpBase + "/?user=" + user);
        waitText("current-user", user::equals, "signed in as " + user);
        waitLiveAndSynced();
        return this;
    }

    void waitLiveAndSynced() {
        waitText("dash-status", "live"::equals, "sync status live");
        waitText("dash-pending", "0"::equals, "no pending changes");
    }

    WebElement byId(String id) {
        return driver.findElement(By.id(id));
    }

    boolean exists(String id) {
        return !driver.findElements(By.id(id)).isEmpty();
    }

    /** The element's textContent (not CSS-transformed), or null while it is missing (the page re-renders often). */
    String text(String id) {
        try {
            return byId(id).getDomProperty("textContent");
        } catch (NoSuchElementException | StaleElementReferenceException e) {
            return null;
        }
    }

    String attr(String id, String attribute) {
        try {
            return byId(id).getDomAttribute(attribute);
        } catch (NoSuchElementException | StaleElementReferenceException e) {
            return null;
        }
    }

    /** Clicks, retrying when a re-render replaced the element in between. */
    void click(String id) {
        until(() -> {
            WebElement e = byId(id);
            if (!e.isDisplayed() || !e.isEnabled()) {
                return false;
            }
            centre(e);
            e.click();
            return true;
        }, "click #" + id);
    }

    /** Scrolls the element to the middle of the window, clear of the sticky top bar. */
    private void centre(WebElement e) {
        script("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})", e);
    }

    void type(String id, String text) {
        until(() -> {
            WebElement e = byId(id);
            e.clear();
            e.sendKeys(text);
            return true;
        }, "type into #" + id);
    }

    void select(String id, String value) {
        until(() -> {
            new Select(byId(id)).selectByValue(value);
            return true;
        }, "select " + value + " in #" + id);
    }

    Object script(String js, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(js, args);
    }

    void sendChat(String text) {
        type("chat-input", text);
        click("chat-send");
        waitChatContains(text);
    }

    List<String> chatBubbles() {
        try {
            return driver.findElements(By.cssSelector("#chat-history .bubble")).stream().map(WebElement::getText)
                    .collect(Collectors.toList());
        } catch (StaleElementReferenceException e) {
            return chatBubbles();
        }
    }

    void waitChatContains(String text) {
        waitChatContains(text, WAIT);
    }

    void waitChatContains(String text, Duration within) {
        until(() -> chatBubbles().contains(text), within, "chat history contains \"" + text + "\"");
    }

    boolean cardExpanded(String card) {
        // app.js writes aria-expanded="" when open and leaves it out when closed; "true"/"false" also accepted
        String aria = attr("card-" + card + "-toggle", "aria-expanded");
        return aria != null && !aria.equals("false");
    }

    void waitCard(String card, boolean expanded, Duration within) {
        until(() -> isCard(card, expanded), within, "card " + card + (expanded ? " expanded" : " collapsed"));
    }

    /** Whether the card shows as expanded (or collapsed) in every way: class, aria-expanded and body. */
    boolean isCard(String card, boolean expanded) {
        try {
            return hasClass("card-" + card, "open") == expanded && cardExpanded(card) == expanded
                    && exists("card-" + card + "-body") == expanded;
        } catch (StaleElementReferenceException e) {
            return isCard(card, expanded);
        }
    }

    /** Clicks a section's sync switch in the data summary (the checkbox is invisible: its label is what a user clicks). */
    void clickSectionSync(String section) {
        until(() -> {
            WebElement label = driver.findElement(By.xpath("//input[@id='sync-" + section + "']/ancestor::label"));
            centre(label);
            label.click();
            return true;
        }, "click the sync switch of " + section);
    }

    /** Flips the page's "Work offline" switch (the checkbox is invisible: its label is what a user clicks). */
    void setOffline(boolean offline) {
        until(() -> {
            WebElement box = byId("offline-toggle");
            if (box.isSelected() != offline) {
                WebElement label = driver.findElement(By.xpath("//input[@id='offline-toggle']/ancestor::label"));
                centre(label);
                label.click();
            }
            return byId("offline-toggle").isSelected() == offline;
        }, "offline switch " + (offline ? "on" : "off"));
        if (offline) {
            waitText("dash-status", "offline"::equals, "sync status offline");
        } else {
            waitLiveAndSynced();
        }
    }

    /** The "Entries" cell of a section's row in the dashboard's data summary, or -1 while it is missing. */
    int sectionEntries(String section) {
        try {
            return Integer.parseInt(driver.findElement(By.cssSelector("#section-" + section + " td:nth-child(3)"))
                    .getDomProperty("textContent").trim());
        } catch (NoSuchElementException | StaleElementReferenceException e) {
            return -1;
        }
    }

    boolean hasClass(String id, String cls) {
        String c = attr(id, "class");
        return c != null && List.of(c.trim().split("\\s+")).contains(cls);
    }

    int pending() {
        String t = text("dash-pending");
        return t == null || t.isEmpty() ? -1 : Integer.parseInt(t);
    }

    String htmlTheme() {
        return driver.findElement(By.tagName("html")).getDomAttribute("data-theme");
    }

    // ------------------------------------------------------------------ waiting

    interface Check {
        boolean ok() throws WebDriverException;
    }

    void until(Check check, String what) {
        until(check, WAIT, what);
    }

    void until(Check check, Duration within, String what) {
        try {
            new WebDriverWait(driver, within, Duration.ofMillis(50))
                    .ignoring(NoSuchElementException.class).ignoring(StaleElementReferenceException.class)
                    .until(d -> check.ok() ? Boolean.TRUE : null);
        } catch (TimeoutException e) {
            screenshot("timeout");
            throw new AssertionError(name + ": not within " + within.toMillis() + " ms: " + what
                    + " (sync " + text("dash-status") + ", pending " + text("dash-pending") + ", message "
                    + text("dash-message") + ")", e);
        }
    }

    /** Asserts that {@code check} holds throughout {@code period} (e.g. a change does NOT arrive). */
    void holds(Check check, Duration period, String what) {
        long end = System.nanoTime() + period.toNanos();
        do {
            boolean ok;
            try {
                ok = check.ok();
            } catch (StaleElementReferenceException e) {
                continue;
            }
            if (!ok) {
                screenshot("broken");
                throw new AssertionError(name + ": stopped holding: " + what);
            }
            sleep(50);
        } while (System.nanoTime() < end);
    }

    /** Waits like {@link #until} and returns how long it took, in milliseconds. */
    long timeUntil(Check check, Duration within, String what) {
        long t0 = System.nanoTime();
        until(check, within, what);
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    void waitText(String id, Predicate<String> ok, String what) {
        until(() -> {
            String t = text(id);
            return t != null && ok.test(t.trim());
        }, what + " (#" + id + ")");
    }

    // ------------------------------------------------------------------ console and evidence

    /** Every console message so far (reading drains chromedriver's buffer, so they are kept here). */
    List<LogEntry> console() {
        try {
            driver.manage().logs().get(LogType.BROWSER).forEach(console::add);
        } catch (WebDriverException ignored) {
            // the browser is gone: keep what was collected
        }
        return console;
    }

    /** Fails on any SEVERE console entry that none of {@code expected} matches (found anywhere in the message). */
    void assertNoConsoleErrors(Pattern... expected) {
        List<String> severe = console().stream().filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
                .map(LogEntry::getMessage)
                .filter(m -> List.of(expected).stream().noneMatch(p -> p.matcher(m).find()))
                .collect(Collectors.toList());
        assertEquals(List.of(), severe, name + ": unexpected console errors");
    }

    /**
     * {@link #assertNoConsoleErrors} and then {@link #clearConsole}, the clearing even when the check
     * fails: one test's errors fail that test, not every test after it on the same page.
     */
    void checkAndClearConsole(Pattern... expected) {
        try {
            assertNoConsoleErrors(expected);
        } finally {
            clearConsole();
        }
    }

    /** Forgets the messages collected so far (after they were checked). */
    void clearConsole() {
        console();
        console.clear();
    }

    /** Saves a screenshot under target/browser-screenshots for a person to look at. */
    void screenshot(String label) {
        try {
            Files.createDirectories(SCREENSHOTS);
            byte[] png = driver.getScreenshotAs(OutputType.BYTES);
            Files.write(SCREENSHOTS.resolve(name + "-" + label + ".png"), png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (WebDriverException ignored) {
            // evidence only
        }
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } finally {
            service.stop();
        }
    }
}
