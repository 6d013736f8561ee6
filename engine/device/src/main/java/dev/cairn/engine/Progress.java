package dev.cairn.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.WallClock;
import java.time.Instant;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Onboarding and assessment progress (the original {@code useProgressPersistence}), stored per
 * field in the {@code progress} section so steps completed on two devices both count:
 * {@code onboarding/steps/<id>}, {@code onboarding/currentStep}, {@code assessment/answers/<id>},
 * {@code assessment/completedAt}, {@code assessment/score}.
 */
public final class Progress {

    /** The original spec's OnboardingProgress. */
    public record Onboarding(SortedSet<String> completedSteps, String currentStep) {
    }

    /** The original spec's AssessmentProgress. */
    public record Assessment(Map<String, JsonNode> answers, boolean isComplete, String completedAt, Double score) {
    }

    private static final String STEPS = "onboarding/steps/";
    private static final String ANSWERS = "assessment/answers/";

    private final MapSection map;
    private final WallClock wall;

    Progress(MapSection map, WallClock wall) {
        this.map = map;
        this.wall = wall;
    }

    /** Marks a step completed or not (the spec's {@code updateOnboarding(stepId, completed)}). */
    public void updateOnboarding(String stepId, boolean completed) {
        if (completed) {
            map.put(STEPS + stepId, true);
        } else {
            map.remove(STEPS + stepId);
        }
    }

    public void completeStep(String stepId) {
        updateOnboarding(stepId, true);
    }

    public boolean isStepCompleted(String stepId) {
        return map.get(STEPS + stepId, Boolean.class, false);
    }

    public void setCurrentStep(String stepId) {
        map.put("onboarding/currentStep", stepId);
    }

    public Onboarding onboarding() {
        TreeSet<String> steps = new TreeSet<>();
        map.entries(STEPS).forEach((k, v) -> {
            if ("true".equals(v)) {
                steps.add(k.substring(STEPS.length()));
            }
        });
        return new Onboarding(steps, map.get("onboarding/currentStep", String.class));
    }

    /** Records one assessment answer (any JSON-writable value). */
    public void answer(String questionId, Object value) {
        map.put(ANSWERS + questionId, value);
    }

    public <T> T answer(String questionId, Class<T> type) {
        return map.get(ANSWERS + questionId, type);
    }

    /** Marks the assessment complete now, with an optional score. */
    public void completeAssessment(Double score) {
        map.atomically(() -> {
            map.put("assessment/completedAt", Instant.ofEpochMilli(wall.millis()).toString());
            if (score != null) {
                map.put("assessment/score", score);
            }
            return null;
        });
    }

    public boolean isAssessmentComplete() {
        return map.contains("assessment/completedAt");
    }

    public Assessment assessment() {
        Map<String, JsonNode> answers = new TreeMap<>();
        for (String key : map.keys(ANSWERS)) {
            answers.put(key.substring(ANSWERS.length()), map.node(key));
        }
        return new Assessment(answers, isAssessmentComplete(), map.get("assessment/completedAt", String.class),
                map.get("assessment/score", Double.class));
    }
}
