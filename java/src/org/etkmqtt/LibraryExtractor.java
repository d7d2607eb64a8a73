package org.etkmqtt;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.channels.FileLock;
import java.util.zip.CRC32;

/**
 * Puts the jar's copy of the native library into a file that
 * {@code System.load} can map, without leaving a copy behind per JVM and
 * without ever loading a file someone else could have written.
 *
 * <p><b>Reuse</b> (JVMs with {@code java.nio.file}, see {@link PosixFiles}):
 * the library lives in {@code <java.io.tmpdir>/etkmqtt-<uid>/}, a directory
 * that must belong to this user and be {@code rwx------}; it is named after
 * the SHA-256 that the build recorded in the jar ({@code
 * libetkmqtt_jni-<first 16 hex digits>.so}) and loaded only when it is a
 * regular file of this user that nobody else may write, with the length
 * and CRC-32 of the jar's copy (see {@link #sameContent}). Anything else found at that
 * name is removed and the library extracted again, so a killed JVM leaves
 * nothing that the next one does not reuse. Another user who pre-creates the
 * directory in a shared temporary directory gets it refused (it is not ours),
 * and the loader falls back to a fresh file.
 *
 * <p><b>Fresh file</b> (Java 1.4 to 6, where owner and mode cannot be read,
 * when the jar records no SHA-256, or when reuse is refused or turned off with
 * {@code -Detkmqtt.reuseExtracted=false}): a new file with a random name that
 * only this JVM created, {@code etkmqtt-*-libetkmqtt_jni.so}, deleted at exit.
 * A JVM that is killed cannot delete it, so each JVM holds a lock on its copy
 * while it runs and removes, at start, the copies whose lock is free: their
 * JVM is gone (the kernel releases the locks of a killed process).
 */
final class LibraryExtractor {
    static final String REUSE_PROPERTY = "etkmqtt.reuseExtracted";
    private static final String FRESH_PREFIX = "etkmqtt-";
    private static final String PART_SUFFIX = ".part";
    private static final int BUFFER = 65536;
    /** A copy of another version not used for this long is removed. */
    private static final long UNUSED_VERSION_MILLIS = 60L * 60L * 1000L;
    /** An unfinished extraction this old was abandoned by a killed JVM. */
    private static final long ABANDONED_PART_MILLIS = 10L * 60L * 1000L;

    /**
     * The open fresh copy and its lock, which tell other JVMs that the copy is
     * in use. Referenced from here so that they are never collected (closing
     * the file would release the lock) while the JVM runs.
     */
    static RandomAccessFile heldCopy;
    static FileLock heldLock;

    private LibraryExtractor() {
    }

    /** The result: the file to load and, for messages, how it was obtained. */
    static final class Extracted {
        final File file;
        final String how;

        Extracted(File file, String how) {
            this.file = file;
            this.how = how;
        }
    }

    /**
     * A file with the content of {@code resource}; the build records the
     * resource's SHA-256 in {@code resource + ".sha256"}, which names the
     * reused copy.
     */
    static Extracted extract(String resource, String fileName) throws IOException {
        StringBuffer reuseRefused = new StringBuffer();
        if (!"false".equals(property(REUSE_PROPERTY))) {
            PosixFiles posix = PosixFiles.get();
            if (posix == null) {
                reuseRefused.append("owner and mode cannot be checked on this JVM");
            } else {
                try {
                    Extracted reused = reuse(posix, resource, fileName, reuseRefused);
                    if (reused != null) {
                        return reused;
                    }
                } catch (IOException e) {
                    reuseRefused.append(e.getMessage());
                }
            }
        } else {
            reuseRefused.append(REUSE_PROPERTY).append("=false");
        }
        return new Extracted(fresh(resource, fileName), "fresh copy; not reused: " + reuseRefused);
    }

    // --- reuse from a private directory -------------------------------------------------------

    private static Extracted reuse(PosixFiles posix, String resource, String fileName, StringBuffer refused)
            throws IOException {
        String key = recordedSha256(resource);
        if (key == null) {
            refused.append("the jar records no SHA-256 for ").append(resource);
            return null;
        }
        File tmp = new File(tmpDir());
        File dir = new File(tmp, "etkmqtt-" + posix.uid);
        String problem = privateDirectoryProblem(posix, tmp, dir);
        if (problem != null) {
            refused.append(problem);
            return null;
        }
        String stem = fileName.endsWith(".so") ? fileName.substring(0, fileName.length() - 3) : fileName;
        File file = new File(dir, stem + "-" + key.substring(0, 16) + ".so");
        removeOtherVersions(dir, stem, file);
        if (ownedRegularFile(posix, file) && sameContent(file, resource)) {
            // Marks the copy as used, so that another version's loader keeps it.
            file.setLastModified(System.currentTimeMillis());
            return new Extracted(file, "reused copy, owner, mode, length and CRC-32 checked");
        }
        // Missing, foreign, changed or a link: replaced, never loaded.
        file.delete();
        File part = File.createTempFile(stem + "-", PART_SUFFIX, dir);
        try {
            writeResource(resource, part);
            posix.chmod(part, "rwx------");
            // rename(2) is atomic: a concurrent JVM sees the old name or the whole file.
            if (!part.renameTo(file)) {
                throw new IOException("cannot rename " + part + " to " + file);
            }
        } finally {
            part.delete();
        }
        // Written from the jar, in a directory that only this user can write.
        return new Extracted(file, "extracted for reuse by later JVMs");
    }

    /** Why {@code dir} cannot hold a reused library (creating it if missing), or null if it can. */
    private static String privateDirectoryProblem(PosixFiles posix, File tmp, File dir) {
        try {
            int tmpMode = posix.mode(tmp);
            // Others may write a non-sticky temporary directory: they could swap our directory.
            if ((tmpMode & 0002) != 0 && (tmpMode & 01000) == 0) {
                return tmp + " is writable by others and not sticky";
            }
            if (dir.mkdir()) {
                posix.chmod(dir, "rwx------");
            }
            int mode = posix.mode(dir);
            if ((mode & PosixFiles.S_IFMT) != PosixFiles.S_IFDIR) {
                return dir + " is not a directory";
            }
            int owner = posix.uid(dir);
            if (owner != posix.uid) {
                return dir + " belongs to uid " + owner + ", not to this user (uid " + posix.uid + ")";
            }
            if ((mode & 077) != 0) {
                // Ours, but others may have put files in it: close it; the files are checked one by one.
                posix.chmod(dir, "rwx------");
            }
            return null;
        } catch (IOException e) {
            return dir + ": " + e.getMessage();
        }
    }

    /** A regular file (not a link) of this user that nobody else may write. */
    private static boolean ownedRegularFile(PosixFiles posix, File file) {
        try {
            int mode = posix.mode(file);
            return (mode & PosixFiles.S_IFMT) == PosixFiles.S_IFREG && (mode & 022) == 0
                    && posix.uid(file) == posix.uid;
        } catch (IOException e) {
            return false;
        }
    }

    /** Copies of other versions unused for an hour, and abandoned partial extractions. */
    private static void removeOtherVersions(File dir, String stem, File keep) {
        String[] names = dir.list();
        if (names == null) {
            return;
        }
        long now = System.currentTimeMillis();
        for (int i = 0; i < names.length; i++) {
            File other = new File(dir, names[i]);
            if (!names[i].startsWith(stem + "-") || other.equals(keep)) {
                continue;
            }
            long age = now - other.lastModified();
            if (names[i].endsWith(PART_SUFFIX) ? age > ABANDONED_PART_MILLIS : age > UNUSED_VERSION_MILLIS) {
                other.delete();
            }
        }
    }

    // --- a fresh file per JVM -----------------------------------------------------------------

    private static File fresh(String resource, String fileName) throws IOException {
        File tmp = new File(tmpDir());
        String suffix = "-" + fileName;
        removeAbandonedCopies(tmp, suffix);
        // A name that does not end in the library's name until the lock is held,
        // so that another JVM's sweep never takes it for an abandoned copy.
        File part = File.createTempFile(FRESH_PREFIX, PART_SUFFIX, tmp);
        part.deleteOnExit();
        RandomAccessFile copy = new RandomAccessFile(part, "rw");
        FileLock lock = lock(copy);
        File file = new File(tmp, part.getName().substring(0, part.getName().length() - PART_SUFFIX.length())
                + suffix);
        boolean done = false;
        try {
            // Nobody else can have written this new file: no check needed.
            writeResource(resource, copy);
            if (!part.renameTo(file)) {
                throw new IOException("cannot rename " + part + " to " + file);
            }
            file.deleteOnExit();
            done = true;
        } finally {
            if (!done) {
                copy.close();
                part.delete();
            }
        }
        synchronized (LibraryExtractor.class) {
            heldCopy = copy;
            heldLock = lock;
        }
        return file;
    }

    /** An exclusive lock on {@code copy}, or null on a JVM or file system without locks. */
    private static FileLock lock(RandomAccessFile copy) {
        try {
            return copy.getChannel().tryLock();
        } catch (IOException e) {
            return null;
        } catch (LinkageError e) {
            // A JVM without java.nio: copies are then only deleted at a normal exit.
            return null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * Deletes this user's copies ({@code etkmqtt-*<suffix>}) whose lock is
     * free: the JVM that extracted them was killed; also their unfinished
     * {@code .part} files once they are old enough that no JVM still starts.
     */
    private static void removeAbandonedCopies(File tmp, String suffix) {
        String[] names = tmp.list();
        if (names == null) {
            return;
        }
        long now = System.currentTimeMillis();
        for (int i = 0; i < names.length; i++) {
            String name = names[i];
            boolean copy = name.endsWith(suffix);
            if (!name.startsWith(FRESH_PREFIX) || !(copy || name.endsWith(PART_SUFFIX))) {
                continue;
            }
            File candidate = new File(tmp, name);
            if (!copy && now - candidate.lastModified() < ABANDONED_PART_MILLIS) {
                continue;
            }
            RandomAccessFile open;
            try {
                // Another user's copy cannot be opened for writing (nor deleted): skipped.
                open = new RandomAccessFile(candidate, "rw");
            } catch (IOException e) {
                continue;
            }
            try {
                FileLock lock = lock(open);
                if (lock != null) {
                    candidate.delete();
                }
            } finally {
                try {
                    open.close();
                } catch (IOException ignored) {
                    // Only a lock probe: nothing was written.
                }
            }
        }
    }

    // --- content ------------------------------------------------------------------------------

    /** The hex SHA-256 that the build recorded next to the resource in the jar, or null. */
    private static String recordedSha256(String resource) throws IOException {
        InputStream in = NativeLoader.class.getResourceAsStream(resource + ".sha256");
        if (in == null) {
            return null;
        }
        try {
            byte[] text = new byte[64];
            int length = readUpTo(in, text);
            String hex = new String(text, 0, length, "US-ASCII").toLowerCase();
            if (hex.length() == 64 && isHex(hex)) {
                return hex;
            }
            throw new IOException("jar resource " + resource + ".sha256 is not a SHA-256 in hex");
        } finally {
            in.close();
        }
    }

    private static void writeResource(String resource, File target) throws IOException {
        RandomAccessFile out = new RandomAccessFile(target, "rw");
        try {
            writeResource(resource, out);
        } finally {
            out.close();
        }
    }

    private static void writeResource(String resource, RandomAccessFile out) throws IOException {
        InputStream in = open(resource);
        try {
            out.setLength(0);
            byte[] buffer = new byte[BUFFER];
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
            }
        } finally {
            in.close();
        }
    }

    /**
     * True if {@code file} has the length and CRC-32 of {@code resource}.
     * CRC-32 is computed by native code on every JVM; SHA-256 or a byte loop
     * in Java take 10 to 30 s for this library on an interpreting ARM JVM (the
     * Zero VM measured under emulation). A checksum suffices because the owner
     * and mode checks already keep every other user out of the directory: the
     * check catches a damaged, truncated or replaced copy, not a forgery by
     * someone who can write as this user.
     */
    private static boolean sameContent(File file, String resource) {
        InputStream expected = null;
        InputStream actual = null;
        try {
            expected = open(resource);
            actual = new FileInputStream(file);
            CRC32 expectedCrc = new CRC32();
            CRC32 actualCrc = new CRC32();
            long expectedLength = checksum(expected, expectedCrc);
            long actualLength = checksum(actual, actualCrc);
            return expectedLength == actualLength && expectedCrc.getValue() == actualCrc.getValue();
        } catch (IOException e) {
            return false;
        } finally {
            closeQuietly(expected);
            closeQuietly(actual);
        }
    }

    /** Feeds {@code in} to {@code crc}; the number of bytes read. */
    private static long checksum(InputStream in, CRC32 crc) throws IOException {
        byte[] buffer = new byte[BUFFER];
        long total = 0;
        int n;
        while ((n = in.read(buffer)) > 0) {
            crc.update(buffer, 0, n);
            total += n;
        }
        return total;
    }

    private static int readUpTo(InputStream in, byte[] buffer) throws IOException {
        int total = 0;
        int n;
        while (total < buffer.length && (n = in.read(buffer, total, buffer.length - total)) > 0) {
            total += n;
        }
        return total;
    }

    private static void closeQuietly(InputStream in) {
        if (in != null) {
            try {
                in.close();
            } catch (IOException ignored) {
                // Read-only: nothing is lost.
            }
        }
    }

    private static InputStream open(String resource) throws IOException {
        InputStream in = NativeLoader.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IOException("jar resource " + resource + " disappeared");
        }
        return in;
    }

    private static boolean isHex(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (Character.digit(text.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    private static String tmpDir() throws IOException {
        String dir = property("java.io.tmpdir");
        if (dir == null) {
            throw new IOException("java.io.tmpdir is not set");
        }
        return dir;
    }

    private static String property(String name) {
        try {
            return System.getProperty(name);
        } catch (SecurityException e) {
            return null;
        }
    }
}
