package dev.cairn.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.WallClock;
import java.time.Instant;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Onboarding and assessment progress ({@code useProgressPersistence} in the browser client's React
 * bindings), stored per field in the {@code progress} section so steps completed and questions
 * answered on two devices all count: {@code onboarding/steps/<id>}, {@code onboarding/currentStep},
 * {@code assessment/answers/<id>}, {@code assessment/completedAt}, {@code assessment/score}.
 * Reads come from memory; writes sync like any map write and throw {@link IllegalStateException}
 * once the engine is closed. Thread-safe.
 */
public final class Progress {

    /**
     * Onboarding as {@link Progress#onboarding()} reads it.
     *
     * @param completedSteps ids of the completed steps, sorted (a copy made by the read)
     * @param currentStep    the step set last with {@link Progress#setCurrentStep}, or null
     */
    public record Onboarding(SortedSet<String> completedSteps, String currentStep) {
    }

    /**
     * The assessment as {@link Progress#assessment()} reads it.
     *
     * @param answers     question id to answer as a JSON tree, sorted by question id
     * @param isComplete  whether {@link Progress#completeAssessment} was called on any device
     * @param completedAt when it was completed (ISO-8601 UTC), or null
     * @param score       the score given at completion, or null
     */
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

    /** Marks a step completed, or not completed again (its record is deleted on every device). */
    public void updateOnboarding(String stepId, boolean completed) {
        if (completed) {
            map.put(STEPS + stepId, true);
        } else {
            map.remove(STEPS + stepId);
        }
    }

    /** Marks a step completed: {@code updateOnboarding(stepId, true)}. */
    public void completeStep(String stepId) {
        updateOnboarding(stepId, true);
    }

    /** Whether the step is completed, on this device or on one whose change was merged here. */
    public boolean isStepCompleted(String stepId) {
        return map.get(STEPS + stepId, Boolean.class, false);
    }

    /** Records the step the user is on (last writer wins across devices). */
    public void setCurrentStep(String stepId) {
        map.put("onboarding/currentStep", stepId);
    }

    /** Completed steps and the current step, read now. */
    public Onboarding onboarding() {
        TreeSet<String> steps = new TreeSet<>();
        map.entries(STEPS).forEach((k, v) -> {
            if ("true".equals(v)) {
                steps.add(k.substring(STEPS.length()));
            }
        });
        return new Onboarding(steps, map.get("onboarding/currentStep", String.class));
    }

    /** Records the answer to one question (any value Jackson can write; a later answer replaces it). */
    public void answer(String questionId, Object value) {
        map.put(ANSWERS + questionId, value);
    }

    /** The answer to one question read as {@code type}, or null if unanswered; {@link IllegalStateException} if it does not read as {@code type}. */
    public <T> T answer(String questionId, Class<T> type) {
        return map.get(ANSWERS + questionId, type);
    }

    /** Marks the assessment complete now (this engine's wall clock), with a score or null for none (an earlier score then stays). */
    public void completeAssessment(Double score) {
        map.atomically(() -> {
            map.put("assessment/completedAt", Instant.ofEpochMilli(wall.millis()).toString());
            if (score != null) {
                map.put("assessment/score", score);
            }
            return null;
        });
    }

    /** Whether the assessment was completed on any device (merged here). */
    public boolean isAssessmentComplete() {
        return map.contains("assessment/completedAt");
    }

    /** Every answer and the completion, read now. */
    public Assessment assessment() {
        Map<String, JsonNode> answers = new TreeMap<>();
        for (String key : map.keys(ANSWERS)) {
            answers.put(key.substring(ANSWERS.length()), map.node(key));
        }
        return new Assessment(answers, isAssessmentComplete(), map.get("assessment/completedAt", String.class),
                map.get("assessment/score", Double.class));
    }
}
