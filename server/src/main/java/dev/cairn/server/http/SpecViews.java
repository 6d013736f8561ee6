package dev.cairn.server.http;

import com.fasterxml.jackson.databind.util.RawValue;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.SortedMap;
import java.util.TreeSet;

/**
 * The original spec's views of a user's state: preferences, onboarding and assessment progress.
 * Each is made from the live values (key to JSON text) of the keys it reads, nothing else.
 */
final class SpecViews {

    static final String ONBOARDING = "onboarding/";
    static final String ASSESSMENT = "assessment/";

    private SpecViews() {
    }

    /** @param live the preferences section */
    static JsonObject preferences(SortedMap<String, String> live) {
        return values(live, "");
    }

    /** @param live the progress section's keys under {@value #ONBOARDING} */
    static JsonObject onboarding(SortedMap<String, String> live) {
        TreeSet<String> steps = new TreeSet<>();
        live.forEach((k, v) -> {
            if (k.startsWith("onboarding/steps/") && "true".equals(v)) {
                steps.add(k.substring("onboarding/steps/".length()));
            }
        });
        String current = live.get("onboarding/currentStep");
        return new JsonObject().put("completedSteps", new JsonArray(new ArrayList<>(steps)))
                .put("currentStep", current == null ? null : rawJson(current));
    }

    /** @param live the progress section's keys under {@value #ASSESSMENT} */
    static JsonObject assessment(SortedMap<String, String> live) {
        String completedAt = live.get("assessment/completedAt");
        String score = live.get("assessment/score");
        return new JsonObject().put("answers", values(live, "assessment/answers/"))
                .put("isComplete", completedAt != null)
                .put("completedAt", completedAt == null ? null : rawJson(completedAt))
                .put("score", score == null ? null : rawJson(score));
    }

    /**
     * A stored value for a JSON answer, written as its stored text (never decoded to a Java number
     * and re-encoded, which would change its spelling: PROTOCOL.md 1.2).
     */
    static Object rawJson(String text) {
        return new RawValue(text);
    }

    private static JsonObject values(SortedMap<String, String> live, String prefix) {
        JsonObject out = new JsonObject();
        live.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), rawJson(v));
            }
        });
        return out;
    }
}
