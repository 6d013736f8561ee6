package dev.cairn.server.http;

import com.fasterxml.jackson.databind.util.RawValue;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.section.StandardSections;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.TreeSet;

/** The original spec's views of a user's state: preferences, onboarding and assessment progress. */
final class SpecViews {

    private SpecViews() {
    }

    static JsonObject preferences(ReplicaState state) {
        return liveValues(state.map(StandardSections.PREFERENCES), "");
    }

    static JsonObject onboarding(ReplicaState state) {
        LwwMap progress = state.map(StandardSections.PROGRESS);
        TreeSet<String> steps = new TreeSet<>();
        progress.forEach((k, e) -> {
            if (k.startsWith("onboarding/steps/") && "true".equals(e.value())) {
                steps.add(k.substring("onboarding/steps/".length()));
            }
        });
        String current = progress.value("onboarding/currentStep");
        return new JsonObject().put("completedSteps", new JsonArray(new ArrayList<>(steps)))
                .put("currentStep", current == null ? null : rawJson(current));
    }

    static JsonObject assessment(ReplicaState state) {
        LwwMap progress = state.map(StandardSections.PROGRESS);
        String completedAt = progress.value("assessment/completedAt");
        String score = progress.value("assessment/score");
        return new JsonObject().put("answers", liveValues(progress, "assessment/answers/"))
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

    private static JsonObject liveValues(LwwMap map, String prefix) {
        JsonObject out = new JsonObject();
        map.sorted().forEach((k, e) -> {
            if (!e.isTombstone() && k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), rawJson(e.value()));
            }
        });
        return out;
    }
}
