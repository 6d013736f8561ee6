package dev.cairn.engine.crash;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The protocol lines ({@code START <n> OK}, {@code SAVED <n> OK}) a crash-test child prints,
 * read from a file its stdout is redirected to, while it runs and once more after it died.
 *
 * <p>A file and not a pipe: when a child is killed, the JDK's process reaper can close the pipe's
 * stream under a reader that is still draining it ({@code IOException: Stream closed}), and the
 * last lines the child printed are lost; the parent then under-counts what was saved and checks
 * less than it should. A file keeps every byte the child wrote before the kill.
 */
public final class ChildLines {

    private static final Pattern LINE = Pattern.compile("(START|SAVED) (\\d+) OK");

    private final Path file;
    private final AtomicLong start = new AtomicLong(-1);
    private final AtomicLong saved = new AtomicLong(-1);
    private final AtomicLong lines = new AtomicLong();
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private final ByteBuffer buffer = ByteBuffer.allocate(64 << 10);
    private FileChannel channel;
    private long offset;
    private volatile boolean finished;
    private Thread tailer;

    private ChildLines(Path file) {
        this.file = file;
    }

    /** Sends the child's stdout to {@code file} (truncated); call {@link #startTailing} once the child started. */
    public static ChildLines redirect(ProcessBuilder pb, Path file) {
        pb.redirectOutput(file.toFile());
        return new ChildLines(file);
    }

    public void startTailing() {
        tailer = new Thread(() -> {
            while (!finished) {
                try {
                    readNew();
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "crash-child-stdout");
        tailer.setDaemon(true);
        tailer.start();
    }

    /** After the child is dead: reads the rest. A last line without its newline counts only if it is complete. */
    public void finish() throws InterruptedException {
        finished = true;
        if (tailer != null) {
            tailer.join(5_000);
        }
        readNew();
        synchronized (this) {
            if (partial.size() > 0) {
                line(partial.toString(StandardCharsets.UTF_8));
                partial.reset();
            }
            try {
                if (channel != null) {
                    channel.close();
                }
            } catch (IOException ignored) {
                // read-only
            }
        }
    }

    public long start() {
        return start.get();
    }

    public long saved() {
        return saved.get();
    }

    public long lines() {
        return lines.get();
    }

    private synchronized void readNew() {
        try {
            if (channel == null) {
                channel = FileChannel.open(file, StandardOpenOption.READ);
            }
            while (true) {
                buffer.clear();
                int n = channel.read(buffer, offset);
                if (n <= 0) {
                    return;
                }
                offset += n;
                for (int i = 0; i < n; i++) {
                    byte b = buffer.get(i);
                    if (b == '\n') {
                        line(partial.toString(StandardCharsets.UTF_8));
                        partial.reset();
                    } else {
                        partial.write(b);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the child's output " + file, e);
        }
    }

    private void line(String line) {
        Matcher m = LINE.matcher(line);
        if (!m.matches()) {
            return; // e.g. a line cut short by the kill: it promises nothing
        }
        lines.incrementAndGet();
        (m.group(1).equals("START") ? start : saved).set(Long.parseLong(m.group(2)));
    }
}
