package org.etkmqtt;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Loads the native library once: first {@code System.loadLibrary}
 * ({@code java.library.path}), then the copy inside the jar under
 * {@code /native/<os>-<arch>/}, extracted to a temporary file.
 */
final class NativeLoader {
    static final String LIBRARY = "etkmqtt_jni";

    private static boolean loaded;

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
            loaded = true;
            return;
        } catch (UnsatisfiedLinkError e) {
            tried.append("System.loadLibrary(\"").append(LIBRARY).append("\") with java.library.path=")
                    .append(System.getProperty("java.library.path")).append(": ").append(e.getMessage());
        }
        String resource = "/native/" + platform() + "/" + fileName;
        tried.append("; jar resource ").append(resource);
        InputStream in = NativeLoader.class.getResourceAsStream(resource);
        if (in == null) {
            throw new EWException("etkmqtt native library " + fileName + " not found; tried " + tried
                    + ": not in the jar");
        }
        try {
            File file = extract(in, fileName);
            System.load(file.getAbsolutePath());
            loaded = true;
        } catch (IOException e) {
            throw new EWException("etkmqtt native library " + fileName + " could not be extracted from "
                    + resource + " to a temporary file: " + e.getMessage());
        } catch (UnsatisfiedLinkError e) {
            throw new EWException("etkmqtt native library " + resource + " could not be loaded: "
                    + e.getMessage() + " (tried " + tried + ")");
        }
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
