package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.StandardSections;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The original spec's API (PROTOCOL.md section 5): {@code POST /api/persistence/sync} and the
 * preference and progress routes, written with the server's clock (replica {@code server}).
 */
final class SpecApi {

    private final UserStates users;

    SpecApi(UserStates users) {
        this.users = users;
    }

    void getPreferences(RoutingContext ctx) {
        respondPreferences(ctx, List.of());
    }

    void getOnboarding(RoutingContext ctx) {
        respondOnboarding(ctx, List.of());
    }

    void getAssessment(RoutingContext ctx) {
        respondAssessment(ctx, List.of());
    }

    private void respondPreferences(RoutingContext ctx, List<Change> changes) {
        users.commitThenRespond(ctx, changes, StandardSections.PREFERENCES, "", SpecViews::preferences);
    }

    private void respondOnboarding(RoutingContext ctx, List<Change> changes) {
        users.commitThenRespond(ctx, changes, StandardSections.PROGRESS, SpecViews.ONBOARDING, SpecViews::onboarding);
    }

    private void respondAssessment(RoutingContext ctx, List<Change> changes) {
        users.commitThenRespond(ctx, changes, StandardSections.PROGRESS, SpecViews.ASSESSMENT, SpecViews::assessment);
    }

    /** The original spec's sync: merge the client's sections, answer with the user's merged state. */
    void sync(RoutingContext ctx) {
        JsonNode root = JsonBodies.tree(ctx);
        if (root == null) {
            return;
        }
        List<Change> changes;
        try {
            changes = new ArrayList<>(ExportDocument.readSections(root.get("sections"), users.sections));
            changes.forEach(c -> users.clock.check(c.stamp()));
            // The server's record of memberships (PROTOCOL.md 8) is never written by a client; a
            // client's state holds it, so it is skipped, as an import skips it.
            changes.removeIf(c -> dev.cairn.server.section.SectionRegistry.serverWritten(c.section()));
        } catch (IllegalArgumentException | ClockSkewException e) { // a stamp too far ahead is bad input, not a store failure
            error(ctx, 400, "invalid-change", e.getMessage());
            return;
        }
        users.commit(ctx, changes)
                .compose(v -> users.load(UserStates.user(ctx)))
                .onSuccess(state -> ctx.response().putHeader("content-type", "application/json")
                        .end("{\"sections\":" + CanonicalJson.encode(state, users.sections.all().keySet()) + "}"))
                .onFailure(ctx::fail);
    }

    void postPreferences(RoutingContext ctx) {
        JsonNode body = JsonBodies.tree(ctx);
        if (body == null) {
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            var fields = body.fields();
            while (fields.hasNext()) {
                var f = fields.next();
                JsonNode v = f.getValue();
                changes.add(new Change.Put(StandardSections.PREFERENCES, f.getKey(), v.isNull() ? null : Json.writeTree(v), users.clock.tick()));
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
            return;
        }
        respondPreferences(ctx, changes);
    }

    void postOnboarding(RoutingContext ctx) {
        JsonNode body = JsonBodies.tree(ctx);
        if (body == null) {
            return;
        }
        String expected = "expected {\"stepId\":\"...\",\"completed\":true|false} and/or {\"currentStep\":\"...\"}";
        List<Change> changes = new ArrayList<>();
        var names = body.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!Set.of("stepId", "completed", "currentStep").contains(name)) {
                error(ctx, 400, "bad-request", expected + ": unknown member '" + name + "'");
                return;
            }
        }
        // Types are checked, never coerced: {"stepId":5} is not step "5", and a missing "completed" is not true.
        JsonNode step = body.get("stepId");
        JsonNode completed = body.get("completed");
        JsonNode current = body.get("currentStep");
        if (step != null && !step.isTextual() || completed != null && !completed.isBoolean() || current != null && !current.isTextual() && !current.isNull()) {
            error(ctx, 400, "bad-request", expected + ": 'stepId' and 'currentStep' are strings, 'completed' is true or false");
            return;
        }
        if ((step == null) != (completed == null)) {
            error(ctx, 400, "bad-request", expected + ": 'stepId' and 'completed' go together");
            return;
        }
        try {
            if (step != null) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "onboarding/steps/" + step.textValue(),
                        completed.booleanValue() ? "true" : null, users.clock.tick()));
            }
            if (current != null) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "onboarding/currentStep", Json.writeTree(current), users.clock.tick()));
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", expected + ": " + e.getMessage()); // our own validation's message (key rules), never a library's
            return;
        }
        if (changes.isEmpty()) {
            error(ctx, 400, "bad-request", "expected {\"stepId\":\"...\",\"completed\":true} or {\"currentStep\":\"...\"}");
            return;
        }
        respondOnboarding(ctx, changes);
    }

    void postAssessment(RoutingContext ctx) {
        JsonNode body = JsonBodies.tree(ctx);
        if (body == null) {
            return;
        }
        String expected = "expected {\"answers\":{...}} and/or {\"complete\":true,\"score\":0.8}";
        JsonNode answers = body.get("answers");
        JsonNode complete = body.get("complete");
        JsonNode score = body.get("score");
        if (answers != null && !answers.isObject() && !answers.isNull() || complete != null && !complete.isBoolean()
                || score != null && !score.isNumber() && !score.isNull()) {
            error(ctx, 400, "bad-request", expected + ": 'answers' is an object, 'complete' true or false, 'score' a number");
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            if (answers != null && answers.isObject()) {
                var fields = answers.fields();
                while (fields.hasNext()) {
                    var f = fields.next();
                    changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/answers/" + f.getKey(), Json.writeTree(f.getValue()), users.clock.tick()));
                }
            }
            if (complete != null && complete.booleanValue()) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/completedAt", Json.write(Instant.now().toString()), users.clock.tick()));
                if (score != null && !score.isNull()) {
                    changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/score", Json.writeTree(score), users.clock.tick()));
                }
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", expected + ": " + e.getMessage()); // our own validation's message (key rules), never a library's
            return;
        }
        if (changes.isEmpty()) {
            error(ctx, 400, "bad-request", "expected {\"answers\":{...}} and/or {\"complete\":true,\"score\":0.8}");
            return;
        }
        respondAssessment(ctx, changes);
    }
}
