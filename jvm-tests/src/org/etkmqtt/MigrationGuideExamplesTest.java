package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.LineReader;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.ProcessGuard;
import org.etkmqtt.harness.Processes;
import org.etkmqtt.harness.Waits;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * docs/migrating-from-basic.md's Java examples, taken from the page itself
 * (every ```java block is a whole class), compile for Java 1.4 against the
 * desktop compat jar and etkmqtt.jar, pass scripts/check-java14, and run:
 * TagJsonRoundTrip prints what the page says it prints, and FlexyMqtt, with
 * the page's ```properties block as its desktop tag table, publishes its tags
 * to a real Mosquitto and applies the page's example command through
 * TagControl so that the next reading carries the new values.
 */
public class MigrationGuideExamplesTest extends ClientTestSupport {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PUBLIC_CLASS = Pattern.compile("public class (\\w+)");

    private File dir;
    private String guide;
    private File classes;

    @Before
    public void compileTheGuidesJava() throws IOException {
        dir = Files.createTempDirectory("etkmqtt-guide-").toFile();
        guide = new String(Files.readAllBytes(new File(projectDir(), "docs/migrating-from-basic.md").toPath()),
                StandardCharsets.UTF_8);
        Map<String, String> sources = javaClasses(guide);
        assertTrue("the guide's examples: " + sources.keySet(),
                sources.keySet().containsAll(Arrays.asList("FlexyMqtt", "TagJsonRoundTrip")));

        File sourceDir = new File(dir, "src");
        classes = new File(dir, "classes");
        assertTrue(sourceDir.mkdir() && classes.mkdir());
        List<String> command = new ArrayList<>(Arrays.asList("ecj", "-source", "1.4", "-target", "1.4",
                "-encoding", "UTF-8", "-warn:-deprecation", "-classpath", desktopClasspath(), "-d",
                classes.getPath()));
        for (Map.Entry<String, String> source : sources.entrySet()) {
            File file = new File(sourceDir, source.getKey() + ".java");
            Files.write(file.toPath(), source.getValue().getBytes(StandardCharsets.UTF_8));
            command.add(file.getPath());
        }
        Processes.run(dir, 120_000, null, command).check();
    }

    @After
    public void removeDirectory() {
        Processes.deleteTree(dir);
    }

    @Test
    public void guide_examples_use_only_the_java_1_4_library() {
        Processes.Result result = Processes.run(projectDir(), 120_000, null,
                Arrays.asList("scripts/check-java14", "--classpath", compatJar().getPath(), classes.getPath()));
        assertEquals(result.output, 0, result.exitCode);
        assertTrue(result.output, result.output.contains("use only the Java 1.4 library"));
    }

    @Test
    public void tag_json_round_trip_prints_what_the_guide_shows() {
        String expected = blockAfter(guide, "public class TagJsonRoundTrip", "text");
        Processes.Result run = Processes.run(dir, 60_000, null, Arrays.asList(java(), "-Xcheck:jni",
                "-Djava.library.path=" + new File(dir, "no-native-library").getPath(), "-cp",
                deviceJar().getPath() + File.pathSeparator + classes.getPath(), "TagJsonRoundTrip")).check();
        assertEquals(expected.trim(), run.output.trim());
    }

    @Test
    public void flexy_mqtt_publishes_preloaded_tags_and_applies_the_guides_command() throws Exception {
        String table = blockAfter(guide, "### Running it on a desktop first", "properties");
        Properties desktop = new Properties();
        desktop.load(new java.io.StringReader(table));
        String serial = desktop.getProperty("INF.SERNUM");
        assertNotNull("the guide's table sets INF.SERNUM:\n" + table, serial);
        File tableFile = new File(dir, "flexy-desktop.properties");
        Files.write(tableFile.toPath(), table.getBytes(StandardCharsets.ISO_8859_1));

        Matcher commandText = Pattern.compile("A command such as `([^`]+)`").matcher(guide);
        assertTrue("the guide shows an example command", commandText.find());
        String command = commandText.group(1);
        JsonNode commanded = JSON.readTree(command);

        Mosquitto broker = closeLater(Mosquitto.startPlain());
        String prefix = "/topic/flexy/" + serial;
        MosquittoSub data = closeLater(broker.mosquittoSub(prefix + "/data", 1));

        ProcessBuilder builder = new ProcessBuilder(java(), "-Xcheck:jni",
                "-Djava.library.path=" + new File(dir, "no-native-library").getPath(),
                "-Dewonitf.desktop.file=" + tableFile.getPath(), "-cp",
                desktopClasspath() + File.pathSeparator + classes.getPath(), "FlexyMqtt", broker.host(),
                Integer.toString(broker.port())).redirectErrorStream(true);
        Process app = ProcessGuard.start(builder);
        StringBuffer output = new StringBuffer();
        LineReader.start(app.getInputStream(), "FlexyMqtt output", line -> output.append(line).append('\n'), () -> {
        });
        try {
            // The preloaded values: tag.Temperature = float:21.5, tag.Batch = string:B-17.
            assertTrue("no reading with the preloaded tags; app output:\n" + output.toString() + "\nsub:\n"
                    + data.output(), Waits.until(30_000, () -> readingWith(data, desktop, "Temperature", "Batch")));
            assertTrue("the app said it is connected:\n" + output.toString(),
                    Waits.until(10_000, () -> output.toString().contains("connected")));
            assertTrue("the app subscribed to its command topic; broker log:\n" + broker.log(),
                    broker.awaitSubscription(serial, prefix + "/command", 20_000));

            broker.mosquittoPub(prefix + "/command", command, 1, false);

            // The next reading (every 10 s) reads the values the command wrote through TagControl.
            assertTrue("no reading with the commanded values " + command + "; app output:\n" + output.toString()
                    + "\nsub:\n" + data.output(),
                    Waits.until(30_000, () -> readingMatches(data, commanded)));
            assertFalse(output.toString(), output.toString().contains("command not applied"));
        } finally {
            ProcessGuard.stop(app, 5_000);
        }
    }

    /** Whether a received reading has the table's initial values for {@code names}. */
    private static boolean readingWith(MosquittoSub sub, Properties table, String... names) {
        for (String payload : sub.texts()) {
            JsonNode tags = parse(payload);
            boolean all = true;
            for (String name : names) {
                String typeAndValue = table.getProperty("tag." + name);
                String value = typeAndValue.substring(typeAndValue.indexOf(':') + 1).trim();
                JsonNode tag = find(tags, name);
                all &= tag != null && (tag.get("value").isNumber()
                        ? tag.get("value").doubleValue() == Double.parseDouble(value)
                        : tag.get("value").asText().equals(value));
            }
            if (all) {
                return true;
            }
        }
        return false;
    }

    /** Whether a received reading carries every tag value of {@code command}. */
    private static boolean readingMatches(MosquittoSub sub, JsonNode command) {
        for (String payload : sub.texts()) {
            JsonNode tags = parse(payload);
            boolean all = true;
            for (JsonNode wanted : command) {
                JsonNode tag = find(tags, wanted.get("tag").asText());
                all &= tag != null && tag.get("value").equals(wanted.get("value"));
            }
            if (all) {
                return true;
            }
        }
        return false;
    }

    private static JsonNode parse(String payload) {
        try {
            return JSON.readTree(payload);
        } catch (IOException e) {
            throw new AssertionError("a reading that is not JSON: " + payload, e);
        }
    }

    private static JsonNode find(JsonNode tags, String name) {
        for (JsonNode tag : tags) {
            if (name.equals(tag.get("tag").asText())) {
                return tag;
            }
        }
        return null;
    }

    /** Every ```java block of the page, by the name of its public class. */
    static Map<String, String> javaClasses(String markdown) {
        Map<String, String> classes = new LinkedHashMap<>();
        for (String block : blocks(markdown, "java")) {
            Matcher name = PUBLIC_CLASS.matcher(block);
            assertTrue("every ```java block of the guide is a whole class, so that it can be tested:\n" + block,
                    name.find());
            classes.put(name.group(1), block);
        }
        return classes;
    }

    /** The first ```language block after the text {@code marker}. */
    static String blockAfter(String markdown, String marker, String language) {
        int at = markdown.indexOf(marker);
        assertTrue("the guide contains " + marker, at >= 0);
        List<String> after = blocks(markdown.substring(at), language);
        assertFalse("a ```" + language + " block follows " + marker, after.isEmpty());
        return after.get(0);
    }

    private static List<String> blocks(String markdown, String language) {
        List<String> blocks = new ArrayList<>();
        String[] lines = markdown.split("\n", -1);
        StringBuilder block = null;
        for (String line : lines) {
            if (block == null) {
                if (line.equals("```" + language)) {
                    block = new StringBuilder();
                }
            } else if (line.equals("```")) {
                blocks.add(block.toString());
                block = null;
            } else {
                block.append(line).append('\n');
            }
        }
        return blocks;
    }

    private static String desktopClasspath() {
        return compatJar().getPath() + File.pathSeparator + deviceJar().getPath();
    }

    private static File projectDir() {
        return new File(property("etkmqtt.projectDir"));
    }

    private static File compatJar() {
        return new File(property("etkmqtt.compatJar"));
    }

    private static File deviceJar() {
        return new File(property("etkmqtt.jar"));
    }

    private static String property(String name) {
        String value = System.getProperty(name);
        assertNotNull("system property " + name + " is set by build.gradle", value);
        return value;
    }

    private static String java() {
        return new File(System.getProperty("java.home"), "bin/java").getPath();
    }
}
