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
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.MosquittoSub;
import org.etkmqtt.harness.ProcessGuard;
import org.etkmqtt.harness.Processes;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * compat/ewonitf-desktop: an application written for the Flexy
 * (compat/example-app, importing com.ewon.ewonitf only) compiles unchanged
 * for Java 1.4 against the compat jar alone and runs on a desktop JVM against
 * a real Mosquitto; the device jar never carries com.ewon classes.
 */
public class EwonitfDesktopCompatTest {
    private static final String SERIAL = "compat-1234";
    private File dir;

    @Before
    public void makeDirectory() throws IOException {
        dir = Files.createTempDirectory("etkmqtt-compat-").toFile();
    }

    @After
    public void removeDirectory() {
        Processes.deleteTree(dir);
    }

    @Test
    public void flexy_app_compiles_and_runs_unchanged_through_the_compat_jar() throws Exception {
        File classes = compileExampleApp();
        try (Mosquitto broker = Mosquitto.startPlain();
                MosquittoSub data = broker.mosquittoSub("flexy/" + SERIAL + "/data", 1)) {
            File out = new File(dir, "app.out");
            ProcessBuilder builder = new ProcessBuilder(java(), "-Xcheck:jni",
                    "-Djava.library.path=" + new File(dir, "no-native-library").getPath(), "-cp",
                    compatJar().getPath() + File.pathSeparator + deviceJar().getPath() + File.pathSeparator
                            + classes.getPath(),
                    "FlexyEchoApp", broker.host(), Integer.toString(broker.port()), SERIAL)
                    .redirectErrorStream(true).redirectOutput(out);
            Process app = ProcessGuard.start(builder);
            try {
                // Publish: the app's reading reaches another subscriber.
                List<MosquittoSub.Received> got = data.awaitMessages(1, 20_000);
                assertEquals("the app's reading reached mosquitto_sub; app output:\n" + read(out), 1, got.size());
                assertEquals("{\"Temperature\":21.5}", got.get(0).text());

                // Receive: a command published by another client reaches the app's callMqttEvent.
                assertTrue("the app subscribed; broker log:\n" + broker.log(),
                        broker.awaitSubscription(SERIAL, "flexy/" + SERIAL + "/command", 20_000));
                broker.mosquittoPub("flexy/" + SERIAL + "/command", "setpoint=42", 1, false);

                assertTrue("the app exits after its command", app.waitFor(30, TimeUnit.SECONDS));
                String output = read(out);
                assertEquals(output, 0, app.exitValue());
                assertTrue(output, output.contains("PUBLISHED flexy/" + SERIAL + "/data"));
                assertTrue(output, output.contains("RECEIVED flexy/" + SERIAL + "/command setpoint=42"));
                // A bad option is a com.ewon.ewonitf.EWException carrying etkmqtt's message.
                assertTrue(output, output.contains("OPTION ERROR ") && output.contains("nosuchoption"));
            } finally {
                ProcessGuard.stop(app, 5_000);
            }
        }
    }

    @Test
    public void device_jar_has_no_com_ewon_classes_and_compat_jar_has_only_them() throws IOException {
        try (JarFile jar = new JarFile(deviceJar())) {
            for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                String name = e.nextElement().getName();
                assertFalse("etkmqtt.jar must not carry the Flexy's own package: " + name,
                        name.startsWith("com/ewon"));
            }
        }
        List<String> compatClasses = new ArrayList<>();
        try (JarFile jar = new JarFile(compatJar())) {
            for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                String name = e.nextElement().getName();
                if (name.endsWith(".class")) {
                    assertTrue("ewonitf-desktop.jar holds com.ewon.ewonitf only: " + name,
                            name.startsWith("com/ewon/ewonitf/"));
                    compatClasses.add(name);
                }
            }
        }
        assertTrue(compatClasses.toString(), compatClasses.containsAll(Arrays.asList(
                "com/ewon/ewonitf/MqttClient.class", "com/ewon/ewonitf/MqttMessage.class",
                "com/ewon/ewonitf/EWException.class", "com/ewon/ewonitf/TagControl.class",
                "com/ewon/ewonitf/SysControlBlock.class")));
    }

    /** ecj -source 1.4 with only the compat jar on the class path: the app needs nothing of org.etkmqtt. */
    private File compileExampleApp() {
        String sourceDir = System.getProperty("etkmqtt.compatExampleApp");
        assertNotNull("system property etkmqtt.compatExampleApp is set by build.gradle", sourceDir);
        File classes = new File(dir, "app-classes");
        assertTrue(classes.mkdir());
        List<String> command = new ArrayList<>(Arrays.asList("ecj", "-source", "1.4", "-target", "1.4",
                "-encoding", "UTF-8", "-classpath", compatJar().getPath(), "-d", classes.getPath()));
        command.add(new File(sourceDir, "FlexyEchoApp.java").getPath());
        Processes.run(dir, 120_000, null, command).check();
        assertTrue(new File(classes, "FlexyEchoApp.class").isFile());
        return classes;
    }

    private static File compatJar() {
        return property("etkmqtt.compatJar");
    }

    private static File deviceJar() {
        return property("etkmqtt.jar");
    }

    private static File property(String name) {
        String path = System.getProperty(name);
        assertNotNull("system property " + name + " is set by build.gradle", path);
        File file = new File(path);
        assertTrue(file + " exists", file.isFile());
        return file;
    }

    private static String java() {
        return new File(System.getProperty("java.home"), "bin/java").getPath();
    }

    private static String read(File file) throws IOException {
        return file.exists() ? new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8) : "";
    }
}
