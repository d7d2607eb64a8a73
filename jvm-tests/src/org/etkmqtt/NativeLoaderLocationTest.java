package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;

import org.etkmqtt.harness.Processes;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * Where the loader finds the library when {@code System.loadLibrary} cannot:
 * next to the jar (the Flexy layout: {@code /usr/app.jar} and
 * {@code /usr/libetkmqtt_jni.so}) before the copy inside the jar, and an
 * error that names every place tried. Each case runs in a child JVM whose
 * class path has only a copy of the jar in a temporary directory (plus the
 * test classes, for {@link PrintLoadedFrom}).
 */
public class NativeLoaderLocationTest {
    private static final String LIBRARY_FILE = System.mapLibraryName(NativeLoader.LIBRARY);
    private File dir;

    /** Child JVM main: loads the library, makes and closes a client, prints where it came from. */
    public static final class PrintLoadedFrom {
        public static void main(String[] args) {
            try {
                MqttClient client = new MqttClient("loader-test", "127.0.0.1") {
                    public void callMqttEvent(int event) {
                    }
                };
                client.close();
                System.out.println("loadedFrom=" + NativeLoader.loadedFrom);
            } catch (Exception e) {
                System.out.println("error=" + e.getMessage());
            }
        }
    }

    @Before
    public void makeDirectory() throws IOException {
        dir = Files.createTempDirectory("etkmqtt-loader-").toFile();
    }

    @After
    public void removeDirectory() {
        Processes.deleteTree(dir);
    }

    @Test
    public void library_next_to_the_jar_is_loaded_before_the_copy_inside_it() throws IOException {
        File jar = copyJar(true);
        File library = new File(dir, LIBRARY_FILE);
        extractLibrary(library);

        String out = runChild(jar);

        assertEquals("loadedFrom=" + library.getCanonicalPath(), out);
    }

    @Test
    public void library_inside_the_jar_is_used_when_none_is_next_to_it() throws IOException {
        File jar = copyJar(true);

        String out = runChild(jar);

        assertTrue(out, out.startsWith("loadedFrom="));
        assertTrue("extracted from the jar: " + out, out.contains("(extracted from jar resource /native/"));
    }

    @Test
    public void error_lists_every_place_tried() throws IOException {
        File jar = copyJar(false);

        String out = runChild(jar);

        assertTrue(out, out.startsWith("error=etkmqtt native library " + LIBRARY_FILE + " not found"));
        assertTrue("(1) java.library.path: " + out, out.contains("(1) System.loadLibrary(\"etkmqtt_jni\")"));
        assertTrue("(2) next to the jar: " + out,
                out.contains("(2) next to the jar: " + new File(dir, LIBRARY_FILE).getCanonicalPath()
                        + ": no such file"));
        assertTrue("(3) jar resource: " + out, out.contains("(3) jar resource /native/"));
    }

    /** Copies build/libs/etkmqtt.jar into the temporary directory, with or without native/. */
    private File copyJar(boolean withNative) throws IOException {
        return copyJar(builtJar(), new File(dir.getCanonicalFile(), "app.jar"), withNative);
    }

    /** Copies {@code jar} to {@code copy} without its native/ folder. */
    static File copyJarWithoutNative(File jar, File copy) throws IOException {
        return copyJar(jar, copy, false);
    }

    private static File copyJar(File jar, File copy, boolean withNative) throws IOException {
        try (JarFile source = new JarFile(jar);
                JarOutputStream out = new JarOutputStream(Files.newOutputStream(copy.toPath()))) {
            for (Enumeration<JarEntry> entries = source.entries(); entries.hasMoreElements();) {
                JarEntry entry = entries.nextElement();
                if (!withNative && entry.getName().startsWith("native/")) {
                    continue;
                }
                out.putNextEntry(new JarEntry(entry.getName()));
                try (InputStream in = source.getInputStream(entry)) {
                    in.transferTo(out);
                }
                out.closeEntry();
            }
        }
        return copy;
    }

    /** Copies this JVM's library out of the jar (which may hold several ABIs' libraries). */
    private void extractLibrary(File target) throws IOException {
        try (JarFile source = new JarFile(builtJar())) {
            String name = "native/" + NativeLoader.folders(ElfAbi.ofThisJvm())[0] + "/" + LIBRARY_FILE;
            JarEntry found = source.getJarEntry(name);
            assertNotNull("the jar holds " + name, found);
            try (InputStream in = source.getInputStream(found);
                    OutputStream out = Files.newOutputStream(target.toPath())) {
                in.transferTo(out);
            }
        }
    }

    private static File builtJar() {
        String path = System.getProperty("etkmqtt.jar");
        assertNotNull("system property etkmqtt.jar is set by build.gradle", path);
        return new File(path);
    }

    /** Runs {@link PrintLoadedFrom} with only {@code jar} and the test classes; returns its last line. */
    private String runChild(File jar) throws IOException {
        File testClasses = new File(PrintLoadedFrom.class.getProtectionDomain().getCodeSource().getLocation()
                .getPath());
        File noLibrary = new File(dir, "no-native-library");
        assertTrue(noLibrary.mkdir());
        assertFalse(new File(testClasses, LIBRARY_FILE).exists());
        Processes.Result result = Processes.run(dir, 60_000,
                new File(System.getProperty("java.home"), "bin/java").getPath(), "-Xcheck:jni",
                "-Djava.library.path=" + noLibrary.getPath(),
                "-cp", jar.getPath() + File.pathSeparator + testClasses.getPath(),
                PrintLoadedFrom.class.getName());
        result.check();
        String[] lines = result.output.trim().split("\n");
        return lines[lines.length - 1].trim();
    }
}
