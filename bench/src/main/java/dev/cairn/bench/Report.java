package dev.cairn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Collects one result per run and prints it at once as {@code RESULT {json}} (the peers' format,
 * /work/shared/peers), then a markdown table per workload: for every numeric metric the median
 * of the runs with [min–max] beside it.
 */
final class Report {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One run of one variant of one workload; metrics in insertion order. */
    record Result(String workload, String variant, int run, Map<String, Object> metrics) {
    }

    private final List<Result> results = new ArrayList<>();
    private final List<String> appendices = new ArrayList<>();
    private final PrintStream out;

    Report(PrintStream out) {
        this.out = out;
    }

    /** Records a result and prints its RESULT line right away. */
    synchronized void add(String workload, String variant, int run, Map<String, Object> metrics) {
        Result r = new Result(workload, variant, run, new LinkedHashMap<>(metrics));
        results.add(r);
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("workload", workload);
        line.put("variant", variant);
        line.put("run", run);
        line.putAll(metrics);
        try {
            out.println("RESULT " + JSON.writeValueAsString(line));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        out.flush();
    }

    /** Markdown printed after the tables (e.g. a peer's own report). */
    synchronized void appendix(String markdown) {
        appendices.add(markdown);
    }

    synchronized List<Result> results() {
        return List.copyOf(results);
    }

    /** The markdown tables: one per workload, one row per variant, median [min–max] per metric. */
    synchronized String markdown() {
        StringBuilder b = new StringBuilder();
        Set<String> workloads = new LinkedHashSet<>();
        results.forEach(r -> workloads.add(r.workload()));
        for (String w : workloads) {
            Set<String> variants = new LinkedHashSet<>();
            Set<String> metrics = new LinkedHashSet<>();
            for (Result r : results) {
                if (r.workload().equals(w)) {
                    variants.add(r.variant());
                    r.metrics().forEach((k, v) -> {
                        if (v instanceof Number) {
                            metrics.add(k);
                        }
                    });
                }
            }
            b.append("### ").append(w).append("\n\n| variant | runs |");
            metrics.forEach(m -> b.append(' ').append(m).append(" |"));
            b.append("\n|---|--:|");
            metrics.forEach(m -> b.append("--:|"));
            b.append('\n');
            for (String v : variants) {
                List<Result> rs = results.stream().filter(r -> r.workload().equals(w) && r.variant().equals(v)).toList();
                b.append("| ").append(v).append(" | ").append(rs.size()).append(" |");
                for (String m : metrics) {
                    Samples s = new Samples();
                    for (Result r : rs) {
                        if (r.metrics().get(m) instanceof Number n) {
                            s.add(n.doubleValue());
                        }
                    }
                    b.append(' ').append(cell(s)).append(" |");
                }
                b.append('\n');
            }
            b.append('\n');
        }
        appendices.forEach(a -> b.append(a).append('\n'));
        return b.toString();
    }

    static String cell(Samples s) {
        if (s.count() == 0) {
            return "–";
        }
        if (s.count() == 1) {
            return num(s.median());
        }
        return num(s.median()) + " [" + num(s.min()) + "–" + num(s.max()) + "]";
    }

    /** Three significant digits below 1,000, whole numbers with separators above. */
    static String num(double v) {
        double a = Math.abs(v);
        if (a >= 1000 || v == Math.rint(v)) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 1 || a == 0) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3g", v);
    }
}
