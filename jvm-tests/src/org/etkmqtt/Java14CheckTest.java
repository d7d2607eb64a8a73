package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;

import org.etkmqtt.harness.Processes;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * scripts/check-java14, the Java 1.4 check for users' own code: a class that
 * ecj -source 1.4 compiles without complaint but that uses StringBuilder and
 * String.isEmpty() fails, naming each call and its line, as a class directory
 * and as a jar; the example gateway passes.
 */
public class Java14CheckTest {
    private static final String SAMPLE = String.join("\n",
            "public class UsesJava5 {",
            "    public static String join(String a, String b) {",
            "        StringBuilder joined = new StringBuilder();",
            "        return joined.append(a).append(b).toString();",
            "    }",
            "",
            "    public static boolean blank(String text) {",
            "        return text.isEmpty();",
            "    }",
            "}",
            "");

    private File dir;

    @Before
    public void makeDirectory() throws IOException {
        dir = Files.createTempDirectory("etkmqtt-java14-").toFile();
    }

    @After
    public void removeDirectory() {
        Processes.deleteTree(dir);
    }

    @Test
    public void stringbuilder_and_isempty_fail_with_the_call_and_line() throws IOException {
        File classes = compileSample();
        Processes.Result result = checkJava14(classes.getPath());
        assertEquals(result.output, 1, result.exitCode);
        assertTrue(result.output, result.output.contains("UsesJava5.class:3: Undefined reference: StringBuilder"));
        assertTrue(result.output,
                result.output.contains("UsesJava5.class:8: Undefined reference: boolean String.isEmpty()"));
        assertTrue(result.output, result.output.contains("check-java14: FAILED"));

        // With the sources, the report names the source file.
        Processes.Result withSources = checkJava14("--sources", new File(dir, "src").getPath(), classes.getPath());
        assertEquals(withSources.output, 1, withSources.exitCode);
        assertTrue(withSources.output,
                withSources.output.contains("UsesJava5.java:8: Undefined reference: boolean String.isEmpty()"));
    }

    @Test
    public void a_jar_is_checked_like_its_classes() throws IOException {
        File classes = compileSample();
        File jar = new File(dir, "app.jar");
        Processes.run(dir, 60_000, "jar", "cf", jar.getPath(), "-C", classes.getPath(), ".").check();
        Processes.Result result = checkJava14(jar.getPath());
        assertEquals(result.output, 1, result.exitCode);
        assertTrue(result.output, result.output.contains("app.jar:UsesJava5.class:4: Undefined reference: "
                + "StringBuilder StringBuilder.append(String)"));
    }

    @Test
    public void the_example_gateway_passes() {
        String exampleClasses = System.getProperty("etkmqtt.exampleClasses");
        assertNotNull("system property etkmqtt.exampleClasses is set by build.gradle", exampleClasses);
        Processes.Result result = checkJava14(exampleClasses);
        assertEquals(result.output, 0, result.exitCode);
        assertTrue(result.output, result.output.contains("use only the Java 1.4 library"));
        assertFalse(result.output, result.output.contains("Undefined reference"));
    }

    @Test
    public void sources_instead_of_classes_are_a_usage_error() throws IOException {
        File src = new File(dir, "src");
        assertTrue(src.mkdir());
        Files.write(new File(src, "UsesJava5.java").toPath(), SAMPLE.getBytes(StandardCharsets.UTF_8));
        Processes.Result result = checkJava14(src.getPath());
        assertEquals(result.output, 2, result.exitCode);
        assertTrue(result.output, result.output.contains("no .class files"));
    }

    /** ecj -source 1.4 -target 1.4 compiles the sample: it checks the language, not the library. */
    private File compileSample() throws IOException {
        File src = new File(dir, "src");
        File classes = new File(dir, "classes");
        assertTrue(src.mkdir() && classes.mkdir());
        File source = new File(src, "UsesJava5.java");
        Files.write(source.toPath(), SAMPLE.getBytes(StandardCharsets.UTF_8));
        Processes.run(dir, 60_000, "ecj", "-source", "1.4", "-target", "1.4", "-d", classes.getPath(),
                source.getPath()).check();
        assertTrue(new File(classes, "UsesJava5.class").isFile());
        return classes;
    }

    private static Processes.Result checkJava14(String... args) {
        String projectDir = System.getProperty("etkmqtt.projectDir");
        assertNotNull("system property etkmqtt.projectDir is set by build.gradle", projectDir);
        String[] command = new String[args.length + 1];
        command[0] = new File(projectDir, "scripts/check-java14").getPath();
        System.arraycopy(args, 0, command, 1, args.length);
        return Processes.run(new File(projectDir), 120_000, null, Arrays.asList(command));
    }
}
