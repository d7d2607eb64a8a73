package org.etkmqtt;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

import org.etkmqtt.harness.ChildJvm;
import org.etkmqtt.harness.Processes;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * What the loader leaves in the temporary directory and what it agrees to
 * load from there (issue 16, item 7): JVMs killed with SIGKILL leave no copy
 * per JVM, and a library that someone else put where the loader looks is
 * never loaded. Every case runs child JVMs whose {@code java.io.tmpdir} is a
 * directory of this test, so every file they leave can be counted.
 */
public class NativeLoaderExtractionTest {
    private static final String LIBRARY_FILE = System.mapLibraryName(NativeLoader.LIBRARY);
    private File dir;
    private File tmp;

    /** Child JVM main: loads the library, prints where from, then waits to be killed (at most 120 s). */
    public static final class LoadAndWait {
        public static void main(String[] args) throws Exception {
            try {
                NativeLoader.load();
                System.out.println("loadedFrom=" + NativeLoader.loadedFrom);
            } catch (EWException e) {
                System.out.println("error=" + e.getMessage());
            }
            System.out.flush();
            if (args.length > 0 && args[0].equals("wait")) {
                Thread.sleep(120_000);
            }
        }
    }

    @Before
    public void makeDirectories() throws IOException {
        dir = Files.createTempDirectory("etkmqtt-extraction-").toFile().getCanonicalFile();
        tmp = new File(dir, "tmp");
        assertTrue(tmp.mkdir());
        // Like /tmp: everyone may write, the sticky bit keeps their files apart.
        Files.setPosixFilePermissions(tmp.toPath(), PosixFilePermissions.fromString("rwxrwxrwx"));
        Processes.run(null, 10_000, "chmod", "+t", tmp.getPath()).check();
    }

    @After
    public void removeDirectories() {
        Processes.deleteTree(dir);
    }

    @Test
    public void twenty_killed_jvms_leave_one_reused_copy() throws Exception {
        String first = null;
        for (int i = 0; i < 20; i++) {
            String loadedFrom = loadAndKill();
            assertTrue("run " + i + ": " + loadedFrom, loadedFrom.startsWith("loadedFrom="));
            String path = pathOf(loadedFrom);
            if (first == null) {
                first = path;
                assertTrue(loadedFrom, loadedFrom.contains("extracted for reuse by later JVMs"));
            } else {
                assertEquals("run " + i + " loads the same copy", first, path);
                assertTrue(loadedFrom, loadedFrom.contains("reused copy, owner, mode, length and CRC-32 checked"));
            }
        }
        List<File> left = filesUnder(tmp);
        assertEquals("files left after 20 SIGKILLs: " + left, 1, left.size());
        assertEquals(new File(first), left.get(0));
        assertEquals("rwx------", permissions(left.get(0).getParentFile()));
    }

    @Test
    public void twenty_killed_jvms_with_fresh_copies_leave_at_most_the_last_one() throws Exception {
        for (int i = 0; i < 20; i++) {
            String loadedFrom = loadAndKill("-D" + LibraryExtractor.REUSE_PROPERTY + "=false");
            assertTrue("run " + i + ": " + loadedFrom, loadedFrom.contains("fresh copy"));
            List<File> left = filesUnder(tmp);
            // This JVM's copy, and at most the one of the JVM killed before it (whose lock was
            // released by the kernel, but which only the next start removes).
            assertTrue("after run " + i + ": " + left, left.size() <= 1);
        }
        // A JVM that ends normally removes the last killed JVM's copy and its own.
        Processes.Result result = Processes.run(dir, 120_000, null, childCommand(false,
                "-D" + LibraryExtractor.REUSE_PROPERTY + "=false"));
        result.check();
        assertTrue(result.output, result.output.contains("loadedFrom="));
        assertEquals("files left after a normal exit", new ArrayList<File>(), filesUnder(tmp));
    }

    @Test
    public void foreign_library_at_the_reused_name_is_replaced_not_loaded() throws Exception {
        File reused = new File(pathOf(loadAndKill()));
        File marker = new File(dir, "foreign-code-ran");
        File foreign = foreignLibrary(marker);
        Files.copy(foreign.toPath(), reused.toPath(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(reused.toPath(), PosixFilePermissions.fromString("rwx------"));

        String loadedFrom = loadAndKill();

        assertFalse("the planted library's constructor ran", marker.exists());
        assertEquals(reused.getPath(), pathOf(loadedFrom));
        assertTrue(loadedFrom, loadedFrom.contains("extracted for reuse"));
        assertArrayEquals("the copy is the jar's library again", jarLibrary(), Files.readAllBytes(reused.toPath()));
    }

    @Test
    public void link_to_a_foreign_library_at_the_reused_name_is_not_loaded() throws Exception {
        File reused = new File(pathOf(loadAndKill()));
        File marker = new File(dir, "foreign-code-ran");
        File foreign = foreignLibrary(marker);
        assertTrue(reused.delete());
        Files.createSymbolicLink(reused.toPath(), foreign.toPath());

        String loadedFrom = loadAndKill();

        assertFalse("the library behind the link was loaded", marker.exists());
        assertEquals(reused.getPath(), pathOf(loadedFrom));
        assertFalse("the link was replaced by a file", Files.isSymbolicLink(reused.toPath()));
        assertArrayEquals(jarLibrary(), Files.readAllBytes(reused.toPath()));
    }

    @Test
    public void reuse_directory_that_is_a_link_elsewhere_is_refused() throws Exception {
        File reused = new File(pathOf(loadAndKill()));
        File privateDir = reused.getParentFile();
        File marker = new File(dir, "foreign-code-ran");
        // Someone else's directory, with their library under the name the loader would reuse.
        File elsewhere = new File(dir, "elsewhere");
        assertTrue(elsewhere.mkdir());
        Files.copy(foreignLibrary(marker).toPath(), new File(elsewhere, reused.getName()).toPath());
        Processes.deleteTree(privateDir);
        Files.createSymbolicLink(privateDir.toPath(), elsewhere.toPath());

        String loadedFrom = loadAndKill();

        assertFalse("the library in the linked directory was loaded", marker.exists());
        assertTrue(loadedFrom, loadedFrom.contains("fresh copy; not reused: " + privateDir + " is not a directory"));
        assertFalse(loadedFrom, pathOf(loadedFrom).startsWith(privateDir.getPath()));
    }

    @Test
    public void reuse_directory_of_another_user_is_refused() throws Exception {
        assumeTrue("needs root to give a directory to another user", "root".equals(System.getProperty("user.name")));
        File reused = new File(pathOf(loadAndKill()));
        File privateDir = reused.getParentFile();
        File marker = new File(dir, "foreign-code-ran");
        // Another user created the directory first, open to all, with their library in it.
        Files.copy(foreignLibrary(marker).toPath(), reused.toPath(),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Processes.run(null, 10_000, "chown", "-R", "65534:65534", privateDir.getPath()).check();
        Processes.run(null, 10_000, "chmod", "-R", "777", privateDir.getPath()).check();

        String loadedFrom = loadAndKill();

        assertFalse("the other user's library was loaded", marker.exists());
        assertTrue(loadedFrom, loadedFrom.contains("fresh copy; not reused: " + privateDir
                + " belongs to uid 65534, not to this user (uid 0)"));
        assertFalse(loadedFrom, pathOf(loadedFrom).startsWith(privateDir.getPath()));
    }

    @Test
    public void library_for_another_abi_next_to_the_jar_is_named_with_both_abis() throws Exception {
        ElfAbi jvm = ElfAbi.ofThisJvm();
        assertNotNull("this JVM's ELF header is readable", jvm);
        // The header of an ARM library of the float ABI this JVM does not have; its loader refuses it.
        boolean hardFloat = !"armhf".equals(jvm.armFloatAbi);
        byte[] elf = new byte[52];
        elf[0] = 0x7f;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        elf[4] = 1; // ELFCLASS32
        elf[5] = 1; // little-endian
        elf[6] = 1;
        elf[16] = 3; // ET_DYN
        elf[18] = 40; // EM_ARM
        elf[20] = 1;
        elf[37] = (byte) (hardFloat ? 0x04 : 0x02); // e_flags 0x5000400 or 0x5000200
        elf[39] = 0x05;
        File armLibrary = new File(dir, LIBRARY_FILE);
        Files.write(armLibrary.toPath(), elf);
        File jar = NativeLoaderLocationTest.copyJarWithoutNative(new File(System.getProperty("etkmqtt.jar")),
                new File(dir, "app.jar"));

        List<String> command = ChildCommand.of(tmp, jar.getPath() + File.pathSeparator + testClasses());
        command.add(LoadAndWait.class.getName());
        Processes.Result result = Processes.run(dir, 120_000, null, command);

        assertTrue(result.output, result.output.contains("(2) next to the jar: " + armLibrary.getPath() + ": "));
        assertTrue(result.output, result.output.contains("(" + armLibrary.getPath() + " is an ARM "
                + (hardFloat ? "hard-float (armhf)" : "soft-float (armel)") + " library, but this JVM is "
                + jvm.describe()));
    }

    @Test
    public void library_of_the_other_float_abi_is_named_with_both_abis() throws Exception {
        ElfAbi jvm = ElfAbi.ofThisJvm();
        assumeTrue("runs on ARM JVMs (gradle armhfTest, armelTest)", jvm != null && jvm.machine == ElfAbi.EM_ARM);
        String other = "armhf".equals(jvm.armFloatAbi) ? "armel" : "armhf";
        File jar = NativeLoaderLocationTest.copyJarWithoutNative(new File(System.getProperty("etkmqtt.jar")),
                new File(dir, "app.jar"));
        // The real library of the other float ABI, where the Flexy layout puts it: next to the jar.
        File library = new File(dir, LIBRARY_FILE);
        try (JarFile source = new JarFile(System.getProperty("etkmqtt.jar"))) {
            JarEntry entry = source.getJarEntry("native/linux-" + other + "/" + LIBRARY_FILE);
            assertNotNull("the multi-platform jar holds the " + other + " library", entry);
            try (InputStream in = source.getInputStream(entry)) {
                Files.copy(in, library.toPath());
            }
        }

        List<String> command = ChildCommand.of(tmp, jar.getPath() + File.pathSeparator + testClasses());
        command.add(LoadAndWait.class.getName());
        Processes.Result result = Processes.run(dir, 300_000, null, command);

        assertTrue(result.output, result.output.contains("error=etkmqtt native library"));
        assertTrue(result.output, result.output.contains("(" + library.getPath() + " is an "
                + ("armhf".equals(other) ? "ARM hard-float (armhf)" : "ARM soft-float (armel)")
                + " library, but this JVM is " + jvm.describe()
                + "; use the library from native/linux-" + jvm.armFloatAbi + "/ of etkmqtt-all-platforms.jar)"));
    }

    // --- helpers ------------------------------------------------------------------------------

    /** Starts a child that loads the library, waits for its line, kills it with SIGKILL; returns the line. */
    private String loadAndKill(String... jvmOptions) {
        List<String> options = new ArrayList<>(Arrays.asList(jvmOptions));
        options.add("-Djava.io.tmpdir=" + tmp.getPath());
        // No hsperfdata file: only the loader's files are counted.
        options.add("-XX:-UsePerfData");
        try (ChildJvm child = ChildJvm.startMain(LoadAndWait.class, options, Arrays.asList("wait"))) {
            String line = child.awaitLineStartingWith("loadedFrom=", 120_000);
            if (line == null) {
                throw new AssertionError("the child did not load the library: " + child.describe());
            }
            child.kill();
            return line;
        }
    }

    private List<String> childCommand(boolean wait, String... jvmOptions) {
        // The jar and the test classes (build.gradle), as for ChildJvm.
        List<String> command = ChildCommand.of(tmp, System.getProperty("etkmqtt.childClasspath"));
        command.addAll(1, Arrays.asList(jvmOptions));
        command.add(LoadAndWait.class.getName());
        if (wait) {
            command.add("wait");
        }
        return command;
    }

    /** A plain child JVM command line with the test's temporary directory. */
    private static final class ChildCommand {
        static List<String> of(File tmp, String classpath) {
            List<String> command = new ArrayList<>();
            command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
            command.add("-Xcheck:jni");
            command.add("-XX:-UsePerfData");
            command.add("-Djava.io.tmpdir=" + tmp.getPath());
            command.add("-Djava.library.path=" + System.getProperty("java.library.path"));
            command.add("-cp");
            command.add(classpath);
            return command;
        }
    }

    private static String pathOf(String loadedFromLine) {
        String rest = loadedFromLine.substring("loadedFrom=".length());
        int space = rest.indexOf(" (");
        return space < 0 ? rest : rest.substring(0, space);
    }

    /** Regular files and links below {@code root}, sorted. */
    private static List<File> filesUnder(File root) throws IOException {
        List<File> files = new ArrayList<>();
        try (java.util.stream.Stream<java.nio.file.Path> walk = Files.walk(root.toPath())) {
            walk.filter(p -> !Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    .forEach(p -> files.add(p.toFile()));
        }
        files.sort(null);
        return files;
    }

    private static String permissions(File file) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file.toPath(),
                java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * A shared library whose constructor creates {@code marker}: if it is ever
     * loaded, the marker says so (whatever else then fails).
     */
    private File foreignLibrary(File marker) throws IOException {
        File source = new File(dir, "foreign.c");
        String markerPath = marker.getPath().replace("\\", "\\\\").replace("\"", "\\\"");
        Files.write(source.toPath(), ("#include <stdio.h>\n"
                + "__attribute__((constructor)) static void planted(void) {\n"
                + "    FILE *f = fopen(\"" + markerPath + "\", \"w\");\n"
                + "    if (f) { fputs(\"foreign code ran\\n\", f); fclose(f); }\n"
                + "}\n").getBytes(StandardCharsets.US_ASCII));
        File library = new File(dir, "libforeign.so");
        Processes.run(dir, 60_000, "cc", "-shared", "-fPIC", "-o", library.getPath(), source.getPath()).check();
        return library;
    }

    /** The bytes of this JVM's library in the jar. */
    private static byte[] jarLibrary() throws IOException {
        ElfAbi jvm = ElfAbi.ofThisJvm();
        String entryName = "native/" + NativeLoader.folders(jvm)[0] + "/" + LIBRARY_FILE;
        try (JarFile jar = new JarFile(System.getProperty("etkmqtt.jar"))) {
            JarEntry entry = jar.getJarEntry(entryName);
            assertNotNull(entryName + " in the jar", entry);
            try (InputStream in = jar.getInputStream(entry)) {
                return in.readAllBytes();
            }
        }
    }

    private static String testClasses() {
        return new File(LoadAndWait.class.getProtectionDomain().getCodeSource().getLocation().getPath()).getPath();
    }
}
