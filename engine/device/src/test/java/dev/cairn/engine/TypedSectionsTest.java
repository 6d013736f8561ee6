package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.persist.Records;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The typed sections of the original spec: cards, components, consent, progress, chat, memory, preferences. */
class TypedSectionsTest {

    @TempDir
    Path dir;

    private ManualWallClock wall;
    private Cairn cairn;

    @BeforeEach
    void open() {
        wall = new ManualWallClock();
        cairn = TestSupport.inMemory("a", wall);
    }

    @AfterEach
    void close() {
        cairn.close();
    }

    private String iso(long millis) {
        return Instant.ofEpochMilli(millis).toString();
    }

    // ------------------------------------------------------------------ cards

    @Test
    void aCardIsCollapsedAndVisibleUntilChanged() {
        Card card = cairn.cards().card("intro");
        assertEquals(new Card.State(false, true, null), card.state());
        assertTrue(cairn.cards().card("open-by-default", true).isExpanded());
        assertTrue(cairn.cards().ids().isEmpty(), "reading defaults stores nothing");
    }

    @Test
    void expandCollapseAndToggleAreStoredFieldByFieldWithLastInteraction() {
        Card card = cairn.cards().card("intro");
        card.expand();
        MapSection cards = cairn.map("cards");
        assertEquals("true", cards.json("card-intro/isExpanded"));
        assertEquals("\"" + iso(wall.millis()) + "\"", cards.json("card-intro/lastInteraction"));
        assertFalse(cards.contains("card-intro/isVisible"), "only the changed field is written");

        wall.advance(Duration.ofMinutes(5));
        card.collapse();
        assertFalse(card.isExpanded());
        assertEquals(iso(wall.millis()), card.lastInteraction());

        wall.advance(Duration.ofMinutes(5));
        assertTrue(card.toggle());
        assertTrue(card.isExpanded());
        assertFalse(card.toggle());
        assertEquals(iso(wall.millis()), card.lastInteraction());
    }

    @Test
    void toggleStartsFromTheDefault() {
        Card open = cairn.cards().card("faq", true);
        assertFalse(open.toggle());
        assertFalse(cairn.cards().card("faq", true).isExpanded(), "the stored value wins over the default once toggled");
    }

    @Test
    void visibilityAndCustomDataAreSeparateFields() {
        Card card = cairn.cards().card("promo");
        card.setVisible(false);
        card.putCustomData("dismissCount", 3);
        card.putCustomData("tags", List.of("a", "b"));
        assertFalse(card.isVisible());
        assertEquals(3, card.customData("dismissCount", Integer.class));
        assertEquals(List.of("a", "b"), card.customData("tags", List.class));
        assertNull(card.customData("missing", String.class));
        assertEquals(Set.of("card-promo/isVisible", "card-promo/lastInteraction", "card-promo/customData/dismissCount",
                "card-promo/customData/tags"), cairn.map("cards").keys());
        assertEquals(new TreeSet<>(Set.of("promo")), cairn.cards().ids());
    }

    @Test
    void cardIdsListEveryCardWithStoredState() {
        cairn.cards().card("b").expand();
        cairn.cards().card("a").setVisible(false);
        cairn.cards().card("never-touched");
        assertEquals(List.of("a", "b"), new ArrayList<>(cairn.cards().ids()));
    }

    @Test
    void concurrentTogglesOfOneCardAlternate() throws Exception {
        Card card = cairn.cards().card("race");
        CairnTest.runConcurrently(4, t -> {
            for (int i = 0; i < 250; i++) {
                card.toggle();
            }
        });
        assertFalse(card.isExpanded(), "1000 atomic toggles from collapsed end collapsed");
    }

    // ------------------------------------------------------------------ components

    @Test
    void componentsShowHideToggleAndKeepEnabledAndLastState() {
        Component nav = cairn.components().component("nav");
        assertEquals(new Component.State(true, true, null), nav.state());
        nav.hide();
        assertFalse(nav.isVisible());
        nav.show();
        assertTrue(nav.isVisible());
        assertFalse(nav.toggle());
        nav.setEnabled(false);
        nav.setLastState("collapsed-sidebar");
        nav.putCustomData("width", 240);
        assertEquals(new Component.State(false, false, "collapsed-sidebar"), nav.state());
        assertEquals(240, nav.customData("width", Integer.class));
        assertEquals("false", cairn.map("components").json("component-nav/isVisible"));
        assertEquals("false", cairn.map("components").json("component-nav/isEnabled"));

        Component hiddenByDefault = cairn.components().component("tips", false);
        assertFalse(hiddenByDefault.isVisible());
        assertTrue(hiddenByDefault.toggle());
    }

    // ------------------------------------------------------------------ consent

    @Test
    void signingMakesAWaiverValidForItsVersionOnly() {
        Consent consent = cairn.consent();
        assertFalse(consent.hasValidWaiver("service", "v1"));
        ConsentEvent signed = consent.sign("service", "v1", null, Map.of("ip", "10.0.0.1"));
        assertEquals(ConsentEvent.Type.SIGNED, signed.type());
        assertEquals(Instant.ofEpochMilli(wall.millis()), signed.at());
        assertNull(signed.expiresAt());
        assertEquals(Map.of("ip", "10.0.0.1"), signed.data());
        assertTrue(consent.hasValidWaiver("service", "v1"));
        assertFalse(consent.hasValidWaiver("service", "v2"), "a signature is for one version");
        assertFalse(consent.hasValidWaiver("other", "v1"));
    }

    @Test
    void aWaiverExpiresWithTheWallClock() {
        Consent consent = cairn.consent();
        ConsentEvent signed = consent.sign("service", "v1", Duration.ofDays(30), null);
        assertEquals(Instant.ofEpochMilli(wall.millis()).plus(Duration.ofDays(30)), signed.expiresAt());
        wall.advance(Duration.ofDays(30).minusMillis(1));
        assertTrue(consent.hasValidWaiver("service", "v1"));
        wall.advance(Duration.ofMillis(1));
        assertFalse(consent.hasValidWaiver("service", "v1"), "valid until, not including, its expiry instant");
        consent.sign("service", "v1", Duration.ofDays(30), null);
        assertTrue(consent.hasValidWaiver("service", "v1"), "re-signing renews it");
    }

    @Test
    void revokingEndsAWaiverAndTheHistoryKeepsEveryEventInOrder() {
        Consent consent = cairn.consent();
        consent.sign("service", "v1");
        wall.advance(Duration.ofMinutes(1));
        consent.sign("service", "v2");
        wall.advance(Duration.ofMinutes(1));
        consent.revoke("service", "v1");
        assertFalse(consent.hasValidWaiver("service", "v1"));
        assertTrue(consent.hasValidWaiver("service", "v2"), "revoking v1 leaves v2 alone");

        List<ConsentEvent> history = consent.history("service");
        assertEquals(List.of("SIGNED v1", "SIGNED v2", "REVOKED v1"),
                history.stream().map(e -> e.type() + " " + e.version()).toList());
        for (int i = 1; i < history.size(); i++) {
            assertTrue(history.get(i).stamp().compareTo(history.get(i - 1).stamp()) > 0);
        }
        Optional<ConsentEvent> latest = consent.latest("service", "v1");
        assertEquals(ConsentEvent.Type.REVOKED, latest.orElseThrow().type());
        wall.advance(Duration.ofMinutes(1));
        consent.sign("service", "v1");
        assertTrue(consent.hasValidWaiver("service", "v1"));
        assertEquals(4, consent.history("service").size(), "nothing is overwritten");
    }

    // ------------------------------------------------------------------ progress

    @Test
    void onboardingStepsAreCompletedAndUncompletedPerField() {
        Progress progress = cairn.progress();
        progress.updateOnboarding("welcome", true);
        progress.completeStep("profile");
        progress.updateOnboarding("tour", true);
        progress.updateOnboarding("tour", false);
        progress.setCurrentStep("billing");
        Progress.Onboarding onboarding = progress.onboarding();
        assertEquals(List.of("profile", "welcome"), new ArrayList<>(onboarding.completedSteps()));
        assertEquals("billing", onboarding.currentStep());
        assertTrue(progress.isStepCompleted("welcome"));
        assertFalse(progress.isStepCompleted("tour"));
        assertEquals("true", cairn.map("progress").json("onboarding/steps/welcome"));
        assertTrue(cairn.map("progress").entry("onboarding/steps/tour").isTombstone());
    }

    @Test
    void assessmentAnswersAndCompletion() {
        Progress progress = cairn.progress();
        assertFalse(progress.isAssessmentComplete());
        progress.answer("q1", "yes");
        progress.answer("q2", Map.of("choice", 3));
        assertEquals("yes", progress.answer("q1", String.class));
        progress.completeAssessment(87.5);
        Progress.Assessment assessment = progress.assessment();
        assertTrue(assessment.isComplete());
        assertEquals(iso(wall.millis()), assessment.completedAt());
        assertEquals(87.5, assessment.score());
        assertEquals(Set.of("q1", "q2"), assessment.answers().keySet());
        JsonNode q2 = assessment.answers().get("q2");
        assertEquals(3, q2.get("choice").asInt());

        Progress again = cairn.progress();
        again.completeAssessment(null);
        assertEquals(87.5, again.assessment().score(), "completing without a score keeps the earlier one");
    }

    // ------------------------------------------------------------------ chat

    @Test
    void chatHistoryIsInAppendOrderWithRolesTimesAndMetadata() {
        Chat chat = cairn.chat();
        chat.append("c1", "user", "hello");
        wall.advance(Duration.ofSeconds(2));
        ChatMessage reply = chat.append("c1", "assistant", "hi there", Map.of("model", "m1"));
        chat.append("c2", "user", "other conversation");
        List<ChatMessage> history = chat.history("c1");
        assertEquals(List.of("user:hello", "assistant:hi there"), history.stream().map(m -> m.role() + ":" + m.text()).toList());
        assertEquals(Instant.ofEpochMilli(wall.millis()), reply.at());
        assertEquals(Map.of("model", "m1"), history.get(1).metadata());
        assertEquals(Map.of(), history.get(0).metadata());
        assertEquals("c1", reply.conversation());
        assertEquals(Set.of("c1", "c2"), chat.conversations());
        assertEquals(2, chat.size("c1"));
        assertEquals(List.of(), chat.history("never"));
    }

    @Test
    void pagingWalksBackThroughAConversationWithoutGapsOrRepeats() {
        Chat chat = cairn.chat();
        for (int i = 0; i < 250; i++) {
            chat.append("long", i % 2 == 0 ? "user" : "assistant", "m" + i);
            if (i % 7 == 0) {
                wall.advance(Duration.ofMillis(1));
            }
        }
        List<String> collected = new ArrayList<>();
        List<Integer> pageSizes = new ArrayList<>();
        Stamp before = null;
        while (true) {
            List<ChatMessage> page = cairn.chat().page("long", before, 100);
            if (page.isEmpty()) {
                break;
            }
            pageSizes.add(page.size());
            for (int i = 1; i < page.size(); i++) {
                assertTrue(page.get(i).stamp().compareTo(page.get(i - 1).stamp()) > 0, "a page is oldest first");
            }
            List<String> texts = new ArrayList<>(page.stream().map(ChatMessage::text).toList());
            texts.addAll(collected);
            collected = texts;
            before = page.get(0).stamp();
        }
        assertEquals(List.of(100, 100, 50), pageSizes);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            expected.add("m" + i);
        }
        assertEquals(expected, collected);
        assertEquals(List.of("m248", "m249"), cairn.chat().page("long", null, 2).stream().map(ChatMessage::text).toList());
        assertThrows(IllegalArgumentException.class, () -> cairn.chat().page("long", null, 0));
    }

    @Test
    void clearingAConversationHidesItAndSurvivesReopen() {
        Path data = dir.resolve("chat");
        try (Cairn durable = Cairn.builder().dataDir(data).replicaId("a").wallClock(wall).open()) {
            durable.chat().append("gone", "user", "secret");
            durable.chat().append("gone", "assistant", "noted");
            durable.chat().append("kept", "user", "stays");
            durable.save().join();
            durable.chat().clear("gone");
            assertEquals(List.of(), durable.chat().history("gone"));
            assertEquals(0, durable.chat().size("gone"));
            assertEquals(1, durable.stats().entriesPerSection().get("chat"));
        }
        try (Cairn reopened = Cairn.builder().dataDir(data).wallClock(wall).open()) {
            assertEquals(List.of(), reopened.chat().history("gone"));
            assertEquals(List.of("stays"), reopened.chat().history("kept").stream().map(ChatMessage::text).toList());
            assertTrue(reopened.chat().conversations().contains("kept"));
            wall.advance(Duration.ofSeconds(1));
            reopened.chat().append("gone", "user", "new start");
            assertEquals(1, reopened.chat().size("gone"));
        }
    }

    @Test
    void clearingTheChatSectionClearsEveryConversation() {
        cairn.chat().append("a", "user", "1");
        cairn.chat().append("b", "user", "2");
        assertEquals(2, cairn.clear("chat"));
        assertEquals(0, cairn.chat().size("a") + cairn.chat().size("b"));
        assertEquals(0, cairn.clear("chat"), "nothing visible left to clear");
    }

    @Test
    void clearingALogPurgesItsRecordsFromDisk() {
        Path data = dir.resolve("log");
        try (Cairn durable = Cairn.builder().dataDir(data).replicaId("a").open()) {
            for (int i = 0; i < 50; i++) {
                durable.log("consent").append("w", Map.of("type", "signed", "version", "v" + i, "at", iso(0)));
            }
            durable.save().join();
            durable.clear("consent");
        }
        TieredLocalStore raw = TieredLocalStore.open(data);
        try {
            List<String> logRecords = new ArrayList<>();
            raw.scan(Records.logStreamPrefix("consent", "w"), (k, v) -> logRecords.add(Records.read(k, v).toString()));
            assertEquals(List.of(), logRecords, "a clear must purge the records it hides from disk");
            assertNotNull(raw.get(Records.watermarkKey("consent", "w")), "the watermark itself is kept");
        } finally {
            raw.close();
        }
        try (Cairn reopened = Cairn.builder().dataDir(data).open()) {
            assertEquals(0, reopened.log("consent").size("w"));
            assertEquals(0, reopened.stats().entriesPerSection().get("consent"));
            assertEquals(0, reopened.consent().history("w").size());
        }
    }

    // ------------------------------------------------------------------ memory and preferences

    @Test
    void memoryRemembersRecallsAndForgets() {
        Memory memory = cairn.memory();
        memory.remember("user.name", "Ada");
        memory.remember("user.langs", List.of("en", "fr"));
        assertEquals("Ada", memory.recall("user.name", String.class));
        assertEquals(List.of("en", "fr"), memory.recall("user.langs", List.class));
        memory.forget("user.name");
        memory.forget("never-known");
        assertNull(memory.recall("user.name", String.class));
        assertEquals(Map.of("user.langs", "[\"en\",\"fr\"]"), memory.facts());
        assertNull(cairn.map("memory").entry("never-known"), "forgetting an unknown fact writes no tombstone");
    }

    @Test
    void preferencesHaveASystemThemeByDefaultAndKeepAnyValue() {
        Preferences prefs = cairn.preferences();
        assertEquals("system", prefs.theme());
        prefs.setTheme("dark");
        assertEquals("dark", prefs.theme());
        prefs.set("fontScale", 1.25);
        assertEquals(1.25, prefs.get("fontScale", Double.class, 1.0));
        assertEquals(true, prefs.get("reduceMotion", Boolean.class, true));
        assertEquals(Set.of("theme", "fontScale"), new HashSet<>(prefs.asMap().keys()));
    }

    @Test
    void uiAndFeaturesAreUntypedMapSections() {
        cairn.ui().put("layout", Map.of("sidebar", "left"));
        cairn.features().put("beta-chat", true);
        assertEquals("left", cairn.ui().node("layout").get("sidebar").asText());
        assertTrue(cairn.features().get("beta-chat", Boolean.class));
        SortedSet<String> keys = cairn.ui().keys("lay");
        assertEquals(Set.of("layout"), keys);
        cairn.ui().remove("layout");
        assertFalse(cairn.ui().contains("layout"));
        assertEquals(0, cairn.ui().size());
    }
}
