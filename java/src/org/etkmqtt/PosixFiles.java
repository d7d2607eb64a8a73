package org.etkmqtt;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileReader;
import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * A file's owner and mode, and {@code chmod}, through {@code java.nio.file}
 * (Java 7) called by reflection: the shim is Java 1.4 source and must run on
 * JVMs without it (the Flexy's), where {@link #get()} returns null and the
 * loader does without.
 */
final class PosixFiles {
    static final int S_IFMT = 0170000;
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;

    private final Method toPath;
    private final Method getAttribute;
    private final Method setPermissions;
    private final Method permissionsFromString;
    private final Object noFollowLinks;
    /** This process's effective user id. */
    final int uid;

    private static boolean probed;
    private static PosixFiles instance;

    private PosixFiles(int uid) throws Exception {
        this.uid = uid;
        Class files = Class.forName("java.nio.file.Files");
        Class path = Class.forName("java.nio.file.Path");
        Class linkOption = Class.forName("java.nio.file.LinkOption");
        noFollowLinks = Array.newInstance(linkOption, 1);
        Array.set(noFollowLinks, 0, linkOption.getField("NOFOLLOW_LINKS").get(null));
        toPath = File.class.getMethod("toPath", new Class[0]);
        getAttribute = files.getMethod("getAttribute", new Class[] {path, String.class, noFollowLinks.getClass()});
        setPermissions = files.getMethod("setPosixFilePermissions",
                new Class[] {path, Class.forName("java.util.Set")});
        permissionsFromString = Class.forName("java.nio.file.attribute.PosixFilePermissions")
                .getMethod("fromString", new Class[] {String.class});
    }

    /** The helper, or null on a JVM without {@code java.nio.file} or without {@code /proc/self/status}. */
    static synchronized PosixFiles get() {
        if (!probed) {
            probed = true;
            try {
                int uid = effectiveUid();
                if (uid >= 0) {
                    PosixFiles candidate = new PosixFiles(uid);
                    // The "unix" attribute view is not on every platform; try it once.
                    candidate.uid(new File("/"));
                    instance = candidate;
                }
            } catch (Exception e) {
                instance = null;
            } catch (LinkageError e) {
                instance = null;
            }
        }
        return instance;
    }

    /** The owner's user id (of the link itself, never its target). */
    int uid(File file) throws IOException {
        return ((Number) attribute(file, "unix:uid")).intValue();
    }

    /** {@code st_mode} (type and permission bits) of the link itself, never its target. */
    int mode(File file) throws IOException {
        return ((Number) attribute(file, "unix:mode")).intValue();
    }

    /** chmod, with permissions spelled as by {@code ls}: {@code "rwx------"}. */
    void chmod(File file, String permissions) throws IOException {
        try {
            Object set = permissionsFromString.invoke(null, new Object[] {permissions});
            setPermissions.invoke(null, new Object[] {toPath.invoke(file, new Object[0]), set});
        } catch (InvocationTargetException e) {
            throw asIOException(file, e);
        } catch (IllegalAccessException e) {
            throw new IOException(file + ": " + e);
        }
    }

    private Object attribute(File file, String name) throws IOException {
        try {
            return getAttribute.invoke(null, new Object[] {toPath.invoke(file, new Object[0]), name, noFollowLinks});
        } catch (InvocationTargetException e) {
            throw asIOException(file, e);
        } catch (IllegalAccessException e) {
            throw new IOException(file + ": " + e);
        }
    }

    private static IOException asIOException(File file, InvocationTargetException e) {
        Throwable cause = e.getTargetException();
        if (cause instanceof IOException) {
            return (IOException) cause;
        }
        return new IOException(file + ": " + cause);
    }

    /** The second field of the "Uid:" line of /proc/self/status, or -1. */
    private static int effectiveUid() throws IOException {
        BufferedReader in = new BufferedReader(new FileReader("/proc/self/status"));
        try {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.startsWith("Uid:")) {
                    String[] fields = line.substring(4).trim().split("\\s+");
                    return fields.length >= 2 ? Integer.parseInt(fields[1]) : -1;
                }
            }
            return -1;
        } finally {
            in.close();
        }
    }
}
