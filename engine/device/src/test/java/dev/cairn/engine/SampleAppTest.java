package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The sample app (src/it/sample-app, built and run in {@code verify} by maven-invoker-plugin from the
 * installed artifacts) depends on the engine exactly as README.md's "Use the engine in your app"
 * tells a user, and that dependency is this build's version: the README cannot drift from what is
 * tested.
 */
class SampleAppTest {

    private static final Pattern ENGINE_DEPENDENCY = Pattern.compile(
            "<dependency>\\s*<groupId>dev\\.cairn</groupId>\\s*<artifactId>cairn-engine</artifactId>\\s*<version>([^<]+)</version>\\s*</dependency>");

    @Test
    void readmeSnippetIsTheSampleAppsDependencyOnThisVersion() throws IOException {
        String readme = Files.readString(Path.of("../../README.md"));
        String samplePom = Files.readString(Path.of("src/it/sample-app/pom.xml"));
        String enginePom = Files.readString(Path.of("pom.xml"));

        String snippet = first(ENGINE_DEPENDENCY, readme, "README.md's <dependency> snippet for dev.cairn:cairn-engine");
        String inSample = first(ENGINE_DEPENDENCY, samplePom, "the sample app's dependency on dev.cairn:cairn-engine");
        assertEquals(normalized(snippet), normalized(inSample), "the sample app must depend on the engine as README.md says");

        Matcher parentVersion = Pattern.compile("<parent>.*?<version>([^<]+)</version>.*?</parent>", Pattern.DOTALL).matcher(enginePom);
        assertTrue(parentVersion.find(), "engine/device/pom.xml names its parent's version");
        Matcher version = ENGINE_DEPENDENCY.matcher(snippet);
        assertTrue(version.find());
        assertEquals(parentVersion.group(1), version.group(1), "README.md's snippet must name this build's version");

        assertTrue(readme.contains("engine/device/src/it/sample-app"), "README.md points at the sample app");
    }

    private static String first(Pattern pattern, String text, String what) {
        Matcher m = pattern.matcher(text);
        assertTrue(m.find(), what + " is missing");
        return m.group();
    }

    private static String normalized(String xml) {
        return xml.replaceAll("\\s+", "");
    }
}
