package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

import org.junit.Test;

/**
 * The jar is what Flexy users deploy: Java 1.4 class files (major version 48,
 * the Flexy's JVM) and the native library at the path the loader looks in.
 */
public class JarContentsTest {
    private static final String[] SHIM_CLASSES = {"EWException", "MqttClient", "MqttMessage", "NativeClient",
        "NativeLoader"};

    private static File jar() {
        String path = System.getProperty("etkmqtt.jar");
        assertNotNull("system property etkmqtt.jar is set by build.gradle", path);
        File jar = new File(path);
        assertTrue(jar + " exists", jar.isFile());
        return jar;
    }

    @Test
    public void every_class_is_java_1_4_bytecode() throws IOException {
        List<String> checked = new ArrayList<>();
        try (JarFile jar = new JarFile(jar())) {
            for (Enumeration<JarEntry> entries = jar.entries(); entries.hasMoreElements();) {
                JarEntry entry = entries.nextElement();
                if (!entry.getName().endsWith(".class")) {
                    continue;
                }
                assertTrue("only org/etkmqtt classes belong in the jar: " + entry.getName(),
                        entry.getName().startsWith("org/etkmqtt/"));
                byte[] header = new byte[8];
                try (InputStream in = jar.getInputStream(entry)) {
                    int read = in.readNBytes(header, 0, 8);
                    assertEquals(entry.getName() + " header", 8, read);
                }
                assertEquals(entry.getName() + " magic", 0xCAFEBABE,
                        ((header[0] & 0xFF) << 24) | ((header[1] & 0xFF) << 16) | ((header[2] & 0xFF) << 8)
                                | (header[3] & 0xFF));
                int major = ((header[6] & 0xFF) << 8) | (header[7] & 0xFF);
                assertEquals(entry.getName() + " class file major version (48 = Java 1.4)", 48, major);
                checked.add(entry.getName());
            }
        }
        for (String name : SHIM_CLASSES) {
            assertTrue("jar holds " + name + ": " + checked, checked.contains("org/etkmqtt/" + name + ".class"));
        }
    }

    @Test
    public void native_library_is_inside_under_the_loader_path() throws IOException {
        try (JarFile jar = new JarFile(jar())) {
            JarEntry entry = jar.getJarEntry("native/" + platform() + "/libetkmqtt_jni.so");
            if (entry == null) {
                fail("native/" + platform() + "/libetkmqtt_jni.so is missing from " + jar.getName());
            }
            byte[] header = new byte[4];
            try (InputStream in = jar.getInputStream(entry)) {
                assertEquals(4, in.readNBytes(header, 0, 4));
            }
            assertEquals("ELF magic", 0x7F, header[0]);
            assertEquals('E', header[1]);
            assertEquals('L', header[2]);
            assertEquals('F', header[3]);
        }
    }

    @Test
    public void library_is_loaded_from_the_jar_not_from_java_library_path() throws Exception {
        String libraryPath = System.getProperty("java.library.path", "");
        for (String dir : libraryPath.split(File.pathSeparator)) {
            assertTrue("java.library.path must not hold the library, or the jar copy is not tested: " + dir,
                    dir.isEmpty() || !new File(dir, "libetkmqtt_jni.so").exists());
        }
        MqttClient client = new MqttClient("etk-loader-test", "127.0.0.1") {
            public void callMqttEvent(int event) {
            }
        };
        try {
            String maps = new String(java.nio.file.Files.readAllBytes(new File("/proc/self/maps").toPath()),
                    java.nio.charset.StandardCharsets.US_ASCII);
            String from = NativeLoader.loadedFrom;
            assertTrue(from, from.contains(" (extracted from jar resource /native/" + platform() + "/"));
            String path = from.substring(0, from.indexOf(" ("));
            assertTrue("extracted below java.io.tmpdir: " + path,
                    path.startsWith(new File(System.getProperty("java.io.tmpdir")).getCanonicalPath() + "/"));
            assertTrue("the extracted copy " + path + " is mapped", maps.contains(" " + path + "\n"));
        } finally {
            client.close();
        }
    }

    /** The jar folder of this JVM's ABI, for example linux-x86_64 or linux-armel. */
    private static String platform() {
        ElfAbi jvm = ElfAbi.ofThisJvm();
        assertNotNull("this JVM's ELF header (/proc/self/exe) is readable", jvm);
        assertNotNull("etkmqtt has a jar folder for " + jvm.describe(), jvm.folder());
        return jvm.folder();
    }
}
