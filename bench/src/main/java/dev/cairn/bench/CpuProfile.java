package dev.cairn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A V8 CPU profile of the browser workload's first open ({@code --browser-profile DIR}): written as
 * a {@code .cpuprofile} (DevTools' Performance panel and {@code chrome://inspect} open it) and
 * summed into self time per function, so a run says where the main thread's time went.
 */
final class CpuProfile {

    private CpuProfile() {
    }

    /** Writes the profile to {@code file} and logs the {@code top} functions by self time. */
    @SuppressWarnings("unchecked")
    static void save(Map<String, Object> profile, Path file, int top) throws IOException {
        new ObjectMapper().writeValue(file.toFile(), profile);
        Map<Integer, String> names = new HashMap<>();
        for (Object o : (List<Object>) profile.get("nodes")) {
            Map<String, Object> node = (Map<String, Object>) o;
            Map<String, Object> frame = (Map<String, Object>) node.get("callFrame");
            String url = String.valueOf(frame.get("url"));
            String fn = String.valueOf(frame.get("functionName"));
            names.put(((Number) node.get("id")).intValue(), (fn.isEmpty() ? "(anonymous)" : fn)
                    + (url.isEmpty() ? "" : " " + url.substring(url.lastIndexOf('/') + 1) + ":" + (((Number) frame.get("lineNumber")).intValue() + 1)));
        }
        List<Object> samples = (List<Object>) profile.get("samples");
        List<Object> deltas = (List<Object>) profile.get("timeDeltas");
        Map<String, Double> self = new HashMap<>();
        double total = 0;
        // A sample's time is the gap to the next sample (DevTools' own attribution).
        for (int i = 0; i < samples.size(); i++) {
            double ms = i + 1 < deltas.size() ? ((Number) deltas.get(i + 1)).doubleValue() / 1000.0 : 0;
            self.merge(names.get(((Number) samples.get(i)).intValue()), ms, Double::sum);
            total += ms;
        }
        List<Map.Entry<String, Double>> sorted = new ArrayList<>(self.entrySet());
        sorted.sort(Map.Entry.<String, Double>comparingByValue().reversed());
        StringBuilder out = new StringBuilder(String.format("CPU profile %s: %.0f ms sampled; self time by function:%n", file, total));
        for (Map.Entry<String, Double> e : sorted.subList(0, Math.min(top, sorted.size()))) {
            out.append(String.format("  %8.1f ms %5.1f%%  %s%n", e.getValue(), 100 * e.getValue() / total, e.getKey()));
        }
        Ctx.log("%s", out.toString().stripTrailing());
    }
}
