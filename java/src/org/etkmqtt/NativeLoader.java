package org.etkmqtt;

import java.io.File;
import java.io.IOException;
import java.io.UnsupportedEncodingException;
import java.net.URL;
import java.net.URLDecoder;
import java.security.CodeSource;
import java.security.ProtectionDomain;

/**
 * Loads the native library once, from the first of these places that has it:
 * <ol>
 * <li>{@code System.loadLibrary} ({@code java.library.path});</li>
 * <li>the directory of the jar this class was loaded from (on the Flexy,
 *     {@code jvmrun -classpath /usr/app.jar} finds {@code /usr/libetkmqtt_jni.so});</li>
 * <li>the copy inside the jar under {@code /native/<os>-<arch>/}, for
 *     example {@code linux-armhf} or {@code linux-armel}: the JVM's float ABI
 *     is read from its own ELF header ({@link ElfAbi}), since {@code os.arch}
 *     is {@code arm} for both. The copy is put into a file by
 *     {@link LibraryExtractor}, which reuses a checked copy or cleans up after
 *     killed JVMs.</li>
 * </ol>
 * When none works, the exception lists every place tried and why it failed;
 * a library built for another ABI than the JVM's is named as such.
 */
final class NativeLoader {
    static final String LIBRARY = "etkmqtt_jni";

    private static boolean loaded;
    /** Where the library was loaded from, for tests and diagnostics; null until loaded. */
    static String loadedFrom;

    private NativeLoader() {
    }

    static synchronized void load() throws EWException {
        if (loaded) {
            return;
        }
        String fileName = System.mapLibraryName(LIBRARY);
        ElfAbi jvm = ElfAbi.ofThisJvm();
        StringBuffer tried = new StringBuffer();
        try {
            System.loadLibrary(LIBRARY);
            loaded("System.loadLibrary(\"" + LIBRARY + "\")");
            return;
        } catch (UnsatisfiedLinkError e) {
            tried.append("(1) System.loadLibrary(\"").append(LIBRARY).append("\") with java.library.path=")
                    .append(System.getProperty("java.library.path")).append(": ").append(e.getMessage())
                    .append(ElfAbi.mismatch(onLibraryPath(fileName), jvm));
        }

        tried.append("; (2) next to the jar: ");
        File jar = jarFile();
        if (jar == null) {
            tried.append("not loaded from a jar file");
        } else {
            File besideJar = new File(jar.getAbsoluteFile().getParentFile(), fileName);
            tried.append(besideJar.getPath());
            if (!besideJar.isFile()) {
                tried.append(": no such file");
            } else {
                try {
                    System.load(besideJar.getAbsolutePath());
                    loaded(besideJar.getAbsolutePath());
                    return;
                } catch (UnsatisfiedLinkError e) {
                    tried.append(": ").append(e.getMessage()).append(ElfAbi.mismatch(besideJar, jvm));
                }
            }
        }

        String[] folders = folders(jvm);
        boolean inJar = false;
        for (int i = 0; i < folders.length; i++) {
            String resource = "/native/" + folders[i] + "/" + fileName;
            tried.append("; (").append(3 + i).append(") jar resource ").append(resource);
            if (NativeLoader.class.getResource(resource) == null) {
                tried.append(": not in the jar");
                continue;
            }
            inJar = true;
            LibraryExtractor.Extracted extracted;
            try {
                extracted = LibraryExtractor.extract(resource, fileName);
            } catch (IOException e) {
                throw new EWException("etkmqtt native library " + fileName + " could not be extracted from "
                        + resource + " to a temporary file: " + e.getMessage() + " (tried " + tried + ")");
            }
            try {
                System.load(extracted.file.getAbsolutePath());
                loaded(extracted.file.getAbsolutePath() + " (extracted from jar resource " + resource + "; "
                        + extracted.how + ")");
                return;
            } catch (UnsatisfiedLinkError e) {
                tried.append(" as ").append(extracted.file.getPath()).append(": ").append(e.getMessage())
                        .append(ElfAbi.mismatch(extracted.file, jvm));
            }
        }
        if (!inJar) {
            throw new EWException("etkmqtt native library " + fileName + " not found; tried " + tried
                    + (jvm == null ? " (this JVM's ABI is unknown: /proc/self/exe cannot be read)"
                            : " (this JVM is " + jvm.describe() + ")"));
        }
        throw new EWException("etkmqtt native library " + fileName + " could not be loaded; tried " + tried);
    }

    /**
     * The jar folders to try, best first: the one for this JVM's ABI, or for an
     * ARM JVM whose float ABI is unknown both ARM folders (the wrong one fails
     * to load and is reported as such).
     */
    static String[] folders(ElfAbi jvm) {
        String folder = jvm == null ? null : jvm.folder();
        if (folder != null) {
            return new String[] {folder};
        }
        String fromProperties = platform();
        if (fromProperties.equals("linux-arm")) {
            return new String[] {"linux-armhf", "linux-armel"};
        }
        return new String[] {fromProperties};
    }

    /** The first {@code fileName} in {@code java.library.path}, the one loadLibrary tried; null if none. */
    private static File onLibraryPath(String fileName) {
        String path = System.getProperty("java.library.path");
        if (path == null) {
            return null;
        }
        String[] dirs = path.split(File.pathSeparator);
        for (int i = 0; i < dirs.length; i++) {
            File candidate = new File(dirs[i], fileName);
            if (dirs[i].length() > 0 && candidate.isFile()) {
                return candidate;
            }
        }
        return null;
    }

    private static void loaded(String from) {
        loaded = true;
        loadedFrom = from;
    }

    /**
     * The jar file this class was loaded from, or null when it came from a
     * directory, from a non-file URL, or the code source is hidden.
     */
    static File jarFile() {
        URL location;
        try {
            ProtectionDomain domain = NativeLoader.class.getProtectionDomain();
            CodeSource source = domain == null ? null : domain.getCodeSource();
            location = source == null ? null : source.getLocation();
        } catch (SecurityException e) {
            return null;
        }
        if (location == null || !"file".equals(location.getProtocol())) {
            return null;
        }
        String path;
        try {
            // URLDecoder turns '+' into a space; a '+' in a file URL is a plus.
            path = URLDecoder.decode(replaceAll(location.getPath(), "+", "%2B"), "UTF-8");
        } catch (UnsupportedEncodingException e) {
            return null;
        } catch (IllegalArgumentException e) {
            return null;
        }
        File file = new File(path);
        return file.isFile() ? file : null;
    }

    /** String.replace(CharSequence, CharSequence) is Java 5. */
    private static String replaceAll(String text, String target, String replacement) {
        StringBuffer result = new StringBuffer();
        int from = 0;
        int at;
        while ((at = text.indexOf(target, from)) >= 0) {
            result.append(text.substring(from, at)).append(replacement);
            from = at + target.length();
        }
        return result.append(text.substring(from)).toString();
    }

    /**
     * The jar folder name from {@code os.name} and {@code os.arch}, for example
     * {@code linux-x86_64}; {@code linux-arm} for either ARM float ABI.
     */
    static String platform() {
        String os = System.getProperty("os.name", "unknown").toLowerCase();
        if (os.startsWith("linux")) {
            os = "linux";
        }
        String arch = System.getProperty("os.arch", "unknown").toLowerCase();
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            arch = "x86_64";
        } else if (arch.equals("aarch64") || arch.equals("arm64")) {
            arch = "aarch64";
        } else if (arch.startsWith("arm")) {
            arch = "arm";
        }
        return os + "-" + arch;
    }
}
