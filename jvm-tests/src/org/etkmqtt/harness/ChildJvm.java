package org.etkmqtt.harness;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running a test main class ({@link ChildClientMain} by
 * default) with the same class path and {@code -Xcheck:jni}; its stdout is
 * collected line by line and its stderr (where the library logs) into a file.
 */
public final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final File stderrFile;
    private final List<String> stdout = new ArrayList<>();
    private boolean ended;

    private ChildJvm(List<String> command) throws IOException {
        stderrFile = File.createTempFile("etkmqtt-child-", ".stderr");
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderrFile);
        process = ProcessGuard.start(builder);
        process.getOutputStream().close();
        LineReader.start(process.getInputStream(), "child-jvm-stdout", this::addLine, this::markEnded);
    }

    /** Starts {@code ChildClientMain host clientId mode options...}. */
    public static ChildJvm start(String host, String clientId, String mode, String... options) {
        List<String> args = new ArrayList<>(Arrays.asList(host, clientId, mode));
        args.addAll(Arrays.asList(options));
        return startMain(ChildClientMain.class, args);
    }

    /** Starts {@code main} (a class on the test class path) with {@code args}. */
    public static ChildJvm startMain(Class<?> main, List<String> args) {
        return startMain(main, new ArrayList<String>(), args);
    }

    /** Starts {@code main} with the JVM options {@code jvmOptions} (e.g. -D...) and {@code args}. */
    public static ChildJvm startMain(Class<?> main, List<String> jvmOptions, List<String> args) {
        return start(javaCommand(main.getName(), childClasspath(), jvmOptions, args));
    }

    /** Starts class {@code main} from {@code classpath} with {@code args}. */
    public static ChildJvm startMain(String main, String classpath, List<String> args) {
        return start(javaCommand(main, classpath, new ArrayList<String>(), args));
    }

    /**
     * Like {@link #startMain}, with the file-creation mask {@code umask}
     * (for example "000": every mode bit a program asks for is kept).
     */
    public static ChildJvm startMainWithUmask(String umask, Class<?> main, List<String> args) {
        List<String> command = new ArrayList<>(Arrays.asList("sh", "-c", "umask " + umask + " && exec \"$0\" \"$@\""));
        command.addAll(javaCommand(main.getName(), childClasspath(), new ArrayList<String>(), args));
        return start(command);
    }

    private static ChildJvm start(List<String> command) {
        try {
            return new ChildJvm(command);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a child JVM: " + e, e);
        }
    }

    private static List<String> javaCommand(String main, String classpath, List<String> jvmOptions,
            List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
        command.add("-Xcheck:jni");
        command.addAll(jvmOptions);
        command.add("-Djava.library.path=" + System.getProperty("java.library.path"));
        command.add("-cp");
        command.add(classpath);
        command.add(main);
        command.addAll(args);
        return command;
    }

    /** The jar and the test classes; set by build.gradle, else this JVM's class path. */
    private static String childClasspath() {
        String fromBuild = System.getProperty("etkmqtt.childClasspath");
        return fromBuild != null ? fromBuild : System.getProperty("java.class.path");
    }

    /** Waits for a stdout line that starts with {@code prefix}; true if it came in time. */
    public boolean awaitLine(String prefix, long timeoutMs) {
        return awaitLineStartingWith(prefix, timeoutMs) != null;
    }

    /** Waits for a stdout line that starts with {@code prefix}; returns it, or null if none came in time. */
    public synchronized String awaitLineStartingWith(String prefix, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            for (String line : stdout) {
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (ended || left <= 0) {
                return null;
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
    }

    /** Waits for the child to exit; returns its exit code, or -1 if it is still running. */
    public int waitFor(long timeoutMs) {
        try {
            if (process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
                ProcessGuard.forget(process);
                return process.exitValue();
            }
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** SIGKILL: the client's sockets are closed by the kernel, no DISCONNECT is sent. */
    public void kill() {
        ProcessGuard.kill(process);
    }

    public synchronized String stdout() {
        return String.join("\n", stdout);
    }

    public String stderr() {
        return Processes.read(stderrFile);
    }

    /** stdout and stderr, for failure messages. */
    public String describe() {
        return "stdout:\n" + stdout() + "\nstderr:\n" + stderr();
    }

    @Override
    public void close() {
        ProcessGuard.kill(process);
        stderrFile.delete();
    }

    private synchronized void addLine(String line) {
        stdout.add(line);
        notifyAll();
    }

    private synchronized void markEnded() {
        ended = true;
        notifyAll();
    }
}
