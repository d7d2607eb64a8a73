package org.etkmqtt.reliability;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.etkmqtt.harness.ProcessGuard;

/**
 * A JVM running {@link StoreChildMain} (same class path and {@code -Xcheck:jni}
 * as the tests); stdout is collected line by line, stderr goes to a file.
 */
public final class StoreChild implements AutoCloseable {
    private final Process process;
    private final File stderrFile;
    private final List<String> stdout = new ArrayList<>();
    private boolean ended;

    private StoreChild(List<String> command) throws IOException {
        stderrFile = File.createTempFile("etkmqtt-store-child-", ".stderr");
        process = ProcessGuard.start(new ProcessBuilder(command).redirectError(stderrFile));
        process.getOutputStream().close();
        Thread reader = new Thread(this::readStdout, "store-child-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code StoreChildMain host port clientId mode count topic options...}. */
    public static StoreChild start(String host, int port, String clientId, String mode, int count, String topic,
            String... options) {
        List<String> command = new ArrayList<>();
        command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
        command.add("-Xcheck:jni");
        command.add("-Djava.library.path=" + System.getProperty("java.library.path"));
        command.add("-cp");
        String fromBuild = System.getProperty("etkmqtt.childClasspath");
        command.add(fromBuild != null ? fromBuild : System.getProperty("java.class.path"));
        command.add(StoreChildMain.class.getName());
        command.addAll(Arrays.asList(host, Integer.toString(port), clientId, mode, Integer.toString(count), topic));
        command.addAll(Arrays.asList(options));
        try {
            return new StoreChild(command);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a child JVM: " + e, e);
        }
    }

    /** Waits for a stdout line starting with {@code prefix}; returns it, or null if none came in time. */
    public synchronized String awaitLine(String prefix, long timeoutMs) {
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

    /** SIGKILL (kill -9): no shutdown hook, no close(), nothing flushed by the library. */
    public void kill() {
        ProcessGuard.kill(process);
    }

    /** Waits for the child to exit; its exit code, or -1 if it still runs. */
    public int waitFor(long timeoutMs) throws InterruptedException {
        if (process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
            ProcessGuard.forget(process);
            return process.exitValue();
        }
        return -1;
    }

    /** stdout and stderr, for failure messages. */
    public synchronized String describe() {
        String err;
        try {
            err = new String(Files.readAllBytes(stderrFile.toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            err = "(cannot read stderr: " + e + ")";
        }
        return "stdout:\n" + String.join("\n", stdout) + "\nstderr:\n" + err;
    }

    @Override
    public void close() {
        ProcessGuard.kill(process);
        stderrFile.delete();
    }

    private void readStdout() {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                synchronized (this) {
                    stdout.add(line);
                    notifyAll();
                }
            }
        } catch (IOException e) {
            // killed
        } finally {
            synchronized (this) {
                ended = true;
                notifyAll();
            }
        }
    }
}
