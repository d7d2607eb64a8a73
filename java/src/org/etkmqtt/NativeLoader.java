package org.etkmqtt;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 * <li>the copy inside the jar under {@code /native/<os>-<arch>/}, extracted
 *     to a temporary file.</li>
 * </ol>
 * When none works, the exception lists every place tried and why it failed.
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
        StringBuffer tried = new StringBuffer();
        try {
            System.loadLibrary(LIBRARY);
            loaded("System.loadLibrary(\"" + LIBRARY + "\")");
            return;
        } catch (UnsatisfiedLinkError e) {
            tried.append("(1) System.loadLibrary(\"").append(LIBRARY).append("\") with java.library.path=")
                    .append(System.getProperty("java.library.path")).append(": ").append(e.getMessage());
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
                    tried.append(": ").append(e.getMessage());
                }
            }
        }

        String resource = "/native/" + platform() + "/" + fileName;
        tried.append("; (3) jar resource ").append(resource);
        InputStream in = NativeLoader.class.getResourceAsStream(resource);
        if (in == null) {
            throw new EWException("etkmqtt native library " + fileName + " not found; tried " + tried
                    + ": not in the jar");
        }
        try {
            File file = extract(in, fileName);
            System.load(file.getAbsolutePath());
            loaded(file.getAbsolutePath() + " (extracted from jar resource " + resource + ")");
        } catch (IOException e) {
            throw new EWException("etkmqtt native library " + fileName + " could not be extracted from "
                    + resource + " to a temporary file: " + e.getMessage() + " (tried " + tried + ")");
        } catch (UnsatisfiedLinkError e) {
            throw new EWException("etkmqtt native library " + resource + " could not be loaded: "
                    + e.getMessage() + " (tried " + tried + ")");
        }
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

    private static File extract(InputStream in, String fileName) throws IOException {
        File file = File.createTempFile("etkmqtt-", "-" + fileName);
        file.deleteOnExit();
        OutputStream out = new FileOutputStream(file);
        try {
            byte[] buffer = new byte[16384];
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
            }
        } finally {
            out.close();
            in.close();
        }
        return file;
    }

    /** The jar folder name for this JVM, for example {@code linux-x86_64}. */
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
