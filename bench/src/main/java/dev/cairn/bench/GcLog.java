package dev.cairn.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a unified GC log ({@code -Xlog:gc*}): its pause lines "{@code GC(n) Pause ... 50M->20M(256M) 3.4ms}". */
final class GcLog {

    private static final Pattern PAUSE = Pattern.compile("\\[gc\\s*\\] GC\\(\\d+\\) (Pause [A-Za-z]+).*?(\\d+)M->(\\d+)M\\((\\d+)M\\) ([\\d.]+)ms");

    /**
     * @param maxAfterMiB       largest heap after any pause (G1 leaves old garbage until a concurrent cycle)
     * @param maxAfterRemarkMiB largest heap after a Remark pause: closest to the live set the log shows
     */
    record Summary(int collections, int fullCollections, long maxAfterMiB, long maxAfterRemarkMiB, long maxCommittedMiB, double pauseMillis) {
    }

    private GcLog() {
    }

    static Summary read(Path log) throws IOException {
        int n = 0;
        int full = 0;
        long maxAfter = 0;
        long maxRemark = 0;
        long maxCommitted = 0;
        double pause = 0;
        for (String line : Files.readAllLines(log)) {
            Matcher m = PAUSE.matcher(line);
            if (!m.find()) {
                continue;
            }
            n++;
            if (m.group(1).equals("Pause Full")) {
                full++;
            }
            maxAfter = Math.max(maxAfter, Long.parseLong(m.group(3)));
            if (m.group(1).equals("Pause Remark")) {
                maxRemark = Math.max(maxRemark, Long.parseLong(m.group(3)));
            }
            maxCommitted = Math.max(maxCommitted, Long.parseLong(m.group(4)));
            pause += Double.parseDouble(m.group(5));
        }
        if (n == 0) {
            throw new IllegalStateException("no GC pauses in " + log + " (was the server started with -Xlog:gc*?)");
        }
        return new Summary(n, full, maxAfter, maxRemark, maxCommitted, pause);
    }
}
