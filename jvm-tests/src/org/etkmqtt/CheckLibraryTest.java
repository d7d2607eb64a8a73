package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;

import org.etkmqtt.harness.Processes;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * org.etkmqtt.CheckLibrary, the check a user runs on the gateway
 * (docs/flexy-deploy.md): with the jar alone it names the library it loaded
 * and exits 0; with a jar that lacks the library it exits 1 and lists every
 * place tried.
 */
public class CheckLibraryTest {
    private File dir;

    @Before
    public void makeDirectory() throws IOException {
        dir = Files.createTempDirectory("etkmqtt-check-library-").toFile();
    }

    @After
    public void removeDirectory() {
        Processes.deleteTree(dir);
    }

    @Test
    public void names_the_library_it_loaded_from_the_jar() {
        Processes.Result result = run(deviceJar());
        assertEquals(result.output, 0, result.exitCode);
        assertTrue(result.output, result.output.contains("etkmqtt: this JVM: os.name=Linux os.arch="));
        assertTrue(result.output, result.output.contains("etkmqtt: OK: native library loaded from "));
        assertTrue(result.output, result.output.contains("(extracted from jar resource /native/"));
    }

    @Test
    public void fails_with_every_place_tried_when_the_jar_has_no_library() throws IOException {
        File jar = new File(dir, "app.jar");
        try (JarFile in = new JarFile(deviceJar()); JarOutputStream out = new JarOutputStream(new FileOutputStream(jar))) {
            for (Enumeration<JarEntry> e = in.entries(); e.hasMoreElements();) {
                JarEntry entry = e.nextElement();
                if (entry.getName().startsWith("native/")) {
                    continue;
                }
                out.putNextEntry(new JarEntry(entry.getName()));
                try (InputStream data = in.getInputStream(entry)) {
                    data.transferTo(out);
                }
                out.closeEntry();
            }
        }
        Processes.Result result = run(jar);
        assertEquals(result.output, 1, result.exitCode);
        assertTrue(result.output, result.output.contains("etkmqtt: FAILED: etkmqtt native library "));
        assertTrue(result.output, result.output.contains("next to the jar: " + dir.getCanonicalPath()));
        assertTrue(result.output, result.output.contains("jar resource /native/"));
    }

    private Processes.Result run(File jar) {
        return Processes.run(dir, 60_000, null, Arrays.asList(
                new File(System.getProperty("java.home"), "bin/java").getPath(), "-Xcheck:jni",
                "-Djava.library.path=" + new File(dir, "no-native-library").getPath(), "-cp", jar.getPath(),
                "org.etkmqtt.CheckLibrary"));
    }

    private static File deviceJar() {
        String path = System.getProperty("etkmqtt.jar");
        assertNotNull("system property etkmqtt.jar is set by build.gradle", path);
        return new File(path);
    }
}
